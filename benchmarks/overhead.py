"""Supervisor overhead: what perfsup spends on itself per experiment.

Runs N experiments (default 50) of the bundled demo target with the scripted
model (distinct neutral edits, so none is refused as a twin), first with the
local executor, then through the Dask executor with one local worker
(a LocalCluster on 127.0.0.1 with one `bench_slot`). Prints the wall time per
experiment, the time in build, check and bench commands, and the
supervisor's share (everything else); for Dask, the time it adds per
experiment beyond the local supervisor's own.

    PYTHONPATH=. python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from perfsup.agent.scripted import ScriptedBackend
from perfsup.config import load_config
from perfsup.engine.factory import make_engine
from perfsup.engine.rundir import RunPaths
from perfsup.store import open_store
from perfsup.workspace.executor import Executor, LocalExecutor
from perfsup.workspace.runner import CommandResult
from perfsup.workspace.sandbox import SandboxExecutor


def _quiet(_line: str) -> None:
    return None


REPORT: Callable[[str], None] = _quiet
DEMO = Path(__file__).resolve().parents[1] / "perfsup" / "demo" / "target"
ANSWER = """DESCRIPTION: note variant {i} above summarize
RATIONALE: a neutral edit; each one differs so none is a twin.
textstats/core.py
<<<<<<< SEARCH
def summarize(text: str, vocabulary: list[str]) -> dict[str, object]:
=======
# variant {i}
def summarize(text: str, vocabulary: list[str]) -> dict[str, object]:
>>>>>>> REPLACE
"""


class TimedExecutor:
    """The local executor, adding up the seconds commands run.

    A command's time is its process's, from start to the moment its exit is
    seen (`CommandResult.process_s`); the runner's set-up and clean-up around
    it count as the supervisor's, as on the Dask worker.
    """

    def __init__(self, inner: Executor | None = None) -> None:
        self.inner = inner or LocalExecutor()
        self.seconds = 0.0
        self.count = 0

    def run(
        self,
        command: str,
        cwd: Path,
        log_path: Path,
        timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        result = self.inner.run(
            command, cwd, log_path, timeout_s, env=env, on_line=on_line, cancel=cancel
        )
        self.seconds += result.process_s
        self.count += 1
        return result


def setup(base: Path, n: int) -> Path:
    repo = base / "target"
    shutil.copytree(DEMO, repo)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b.invalid",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b.invalid",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "demo"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    (base / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''\n{ANSWER.format(i=i)}'''\n\n" for i in range(n))
    )
    config = (repo / "perfsup.toml").read_text()
    config = config.replace('script = "answers.toml"', f'script = "{base / "answers.toml"}"')
    config = config.replace(
        "max_experiments = 5",
        f"max_experiments = {n}\nmax_children = {n}\nmax_depth = {n}\nmax_failures_in_a_row = {n}",
    )
    (base / "perfsup.toml").write_text(config.replace('repo = "."', f'repo = "{repo}"'))
    return base / "perfsup.toml"


def run(n: int, dask_client: object | None) -> tuple[float, float, int]:
    """(wall seconds, command seconds, experiments) of one engine run."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config_path = setup(base, n)
        config = load_config(config_path)
        paths = RunPaths(base / "run")
        store = open_store(paths.store)
        # The box every local command runs in, as `perfsup run` builds it; its
        # start-up counts with the command's time (the integrity checks around
        # it are the engine's, counted as the supervisor's).
        timed = TimedExecutor(
            SandboxExecutor(LocalExecutor(), config.sandbox, [paths.root], REPORT)
        )
        experiments = None
        if dask_client is not None:
            from perfsup.workspace.dask_executor import DaskExperiments

            # The worker runs in this process: give it a host cache of its own,
            # cold at the start like a new machine's, shared with nobody.
            os.environ["PERFSUP_RUNNER_ROOT"] = str(base / "host")

            experiments = DaskExperiments(dask_client)  # type: ignore[arg-type]
        engine = make_engine(
            config=config,
            store=store,
            paths=paths,
            backend=ScriptedBackend(base / "answers.toml"),
            executor=timed,
            seed=1,
            config_path=config_path,
            report=REPORT,
            experiments=experiments,
        )
        start = time.perf_counter()
        engine.run()
        wall = time.perf_counter() - start
        remote = engine.remote.command_s if engine.remote is not None else 0.0
        from sqlmodel import select

        from perfsup.store import Node

        with store.session() as s:
            done = len([x for x in s.exec(select(Node)).all() if x.parent_id is not None])
        store.close()
        return wall, timed.seconds + remote, done


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    wall, commands, done = run(n, None)
    per = wall / done * 1000
    sup = (wall - commands) / done * 1000
    share = (wall - commands) / wall * 100
    print(
        f"local: {done} experiments in {wall:.1f} s: {per:.0f} ms per experiment, "
        f"{commands / done * 1000:.0f} ms in build/check/bench commands, "
        f"supervisor {sup:.0f} ms ({share:.1f}%)"
    )

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            protocol="tcp://",
            host="127.0.0.1",
            resources={"bench_slot": 1},
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        dwall, dcommands, ddone = run(n, client)
    dsup = (dwall - dcommands) / ddone * 1000
    added = dsup - sup
    print(
        f"dask: {ddone} experiments in {dwall:.1f} s: {dwall / ddone * 1000:.0f} ms per "
        f"experiment, {dcommands / ddone * 1000:.0f} ms in commands, supervisor + dask "
        f"{dsup:.0f} ms; dask adds {added:.0f} ms per experiment"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"overhead: per_experiment_ms={sup:.0f} supervisor_share={share:.1f}% "
        f"dask_added_ms={added:.0f}"
    )


if __name__ == "__main__":
    main()
