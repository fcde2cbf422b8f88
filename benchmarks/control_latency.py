"""How fast a running engine obeys `pause` and `abort` during a long benchmark.

Acceptance of issue 5: `perfsup ctl pause` takes effect within one second.
An engine runs (in a thread, on a real git repository, real processes, a real
SQLite store) a benchmark that waits until released; this script enqueues a
command through a second store connection, like `perfsup ctl` does, and
measures until the command is settled, the run shows `paused` and the
benchmark processes are gone. Repeated N times (pause, resume, abort).

    PYTHONPATH=. python benchmarks/control_latency.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from perfsup.agent.scripted import ScriptedBackend
from perfsup.config import load_config
from perfsup.engine.factory import make_engine
from perfsup.engine.orphans import marked_processes
from perfsup.engine.rundir import RunPaths
from perfsup.store import Node, Run, open_store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import Command, CommandStatus
from perfsup.workspace.executor import LocalExecutor

ANSWER = (
    "DESCRIPTION: count from zero {i}\nsrc/app.py\n<<<<<<< SEARCH\n    return sum(range(n))\n"
    "=======\n    return sum(range(0, n)) + {i} * 0\n>>>>>>> REPLACE\n"
)


def setup(base: Path, n: int) -> tuple[Path, Path]:
    repo = base / "repo"
    (repo / "src").mkdir(parents=True)
    hold = base / "hold"
    (repo / "src" / "app.py").write_text("def work(n):\n    return sum(range(n))\n")
    (repo / "bench.sh").write_text(f"while [ -e {hold} ]; do sleep 0.05; done\necho METRIC t=1\n")
    env = ["-c", "user.name=b", "-c", "user.email=b@b.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", "base"], check=True)
    (base / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''\n{ANSWER.format(i=i)}'''\n\n" for i in range(n))
    )
    config = base / "perfsup.toml"
    config.write_text(
        '[target]\nrepo = "repo"\ngoal = "g"\n[bench]\nrun = "bash bench.sh"\npairs = 3\n'
        'warmup = 0\n[[metrics]]\nname = "t"\n[access]\nwritable = ["src"]\n'
        'protected = ["bench.sh"]\n[model]\nbackend = "scripted"\nscript = "answers.toml"\n'
        f"[budgets]\nmax_experiments = {n}\nmax_children = {n + 1}\n"
        f"max_failures_in_a_row = {n + 1}\npause_after_failures = {n + 1}\n"
    )
    return config, hold


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config_path, hold = setup(base, n)
        config = load_config(config_path)
        paths = RunPaths(base / "run")
        engine = make_engine(
            config=config,
            store=open_store(paths.store),
            paths=paths,
            backend=ScriptedBackend(Path(config.model.script or "")),
            executor=LocalExecutor(),
            config_path=config_path,
            report=lambda _l: None,
        )
        thread = threading.Thread(target=engine.run, daemon=True)
        hold.write_text("hold")
        thread.start()
        reader = open_store(paths.store)
        settle: dict[str, list[float]] = {"pause": [], "abort": []}
        effect: dict[str, list[float]] = {"pause": [], "abort": []}
        killed: dict[str, list[float]] = {"pause": [], "abort": []}

        def wait(check, limit: float = 30.0) -> float:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            while not check():
                if time.perf_counter() - start > limit:
                    raise SystemExit("timed out")
                time.sleep(0.002)
            return time.perf_counter()

        def node_status(node_id: str) -> str | None:
            with reader.session() as s:
                node = s.get(Node, node_id)
                return node.status if node else None

        def send(kind: str) -> int:
            with reader.session() as s:
                return int(enqueue_command(s, kind, {}).id or 0)

        def settled(cid: int) -> bool:
            with reader.session() as s:
                c = s.get(Command, cid)
                return c is not None and c.status != CommandStatus.PENDING

        def bench_running() -> bool:
            return any("bench.sh" in " ".join(p.cmdline()) for p in marked_processes(paths.root))

        for i in range(1, n + 1):
            node_id = f"1.{i}"
            wait(lambda: node_status(node_id) == "benchmarking")  # noqa: B023
            wait(bench_running)
            kind = "pause" if i % 2 else "abort"
            start = time.perf_counter()
            cid = send(kind)
            settle[kind].append(wait(lambda: settled(cid)) - start)  # noqa: B023
            if kind == "pause":

                def paused() -> bool:
                    with reader.session() as s:
                        run = s.get(Run, 1)
                        return run is not None and run.engine_state == "paused"

                effect[kind].append(wait(paused) - start)
            else:
                effect[kind].append(wait(lambda: node_status(node_id) == "cancelled") - start)  # noqa: B023
            killed[kind].append(wait(lambda: not bench_running()) - start)
            if kind == "pause":
                send("abort")  # end this experiment, then resume for the next
                wait(lambda: node_status(node_id) == "cancelled")  # noqa: B023
                send("resume")
        hold.unlink()
        thread.join(60)
        reader.close()
        engine.store.close()

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"

    for kind in ("pause", "abort"):
        print(f"{kind}: {len(settle[kind])} times")
        print(f"  settled:          {ms(settle[kind])}")
        print(f"  in effect:        {ms(effect[kind])}")
        print(f"  bench killed:     {ms(killed[kind])}")
    worst = max(max(effect["pause"]), max(killed["pause"]))
    print(
        f"control_latency: n={n} pause_effect_max_ms={worst * 1000:.0f} "
        f"abort_effect_max_ms={max(max(effect['abort']), max(killed['abort'])) * 1000:.0f} "
        f"cpu_count={psutil.cpu_count()}"
    )


if __name__ == "__main__":
    main()
