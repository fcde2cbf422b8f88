"""The runner: executes one experiment on whatever host it lands on.

Every executor (local thread, Dask worker, SkyPilot cluster) runs this same
module. It rebuilds the parent commit from the shipped bundle (or URL) in a
cached bare repository, applies the candidate's patch in a fresh worktree,
builds both sides, checks the candidate, then benchmarks parent and
candidate with the engine's own pair loop (`pairs.py`), all on this one host,
and prints the line protocol of `experiment.py`: command output and each
log's end line, so the engine keeps the same logs as for a local run.

Benchmark pairs are driven by controls: `{"do": "pairs", "phase", "warmup",
"pairs", "stops"}` runs a pass and pauses at each stop (a look of the
sequential rule) until the engine says `{"do": "more"}` or starts the next
pass; `{"do": "finish"}` ends. With no control channel (a cloud job), the
spec's `plan` is run from start to end instead.

    python -m perfsup.workspace.experiment_runner SPEC.json [--root DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from perfsup.config import MetricSpec
from perfsup.config.model import SandboxSettings
from perfsup.store.models import NodeStatus
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import Executor, LocalExecutor
from perfsup.workspace.experiment import (
    Command,
    ExperimentSpec,
    format_metric,
    format_output,
    format_status,
)
from perfsup.workspace.pairs import CANDIDATE, PARENT, BenchOutcome, run_pairs
from perfsup.workspace.runner import CommandResult, end_line
from perfsup.workspace.runner_host import default_root, file_lock, host_info, host_lock
from perfsup.workspace.safegit import clean_env, safe_argv
from perfsup.workspace.steps import failure_line, step_failure

__all__ = ["Failed", "run_experiment"]

# Built parent worktrees kept per host: the children of one parent usually
# come one after another, and a parent's build is reused by all of them.
_KEEP_PARENTS = 2
_CONTROL_WAIT_S = 0.05

Control = Callable[[float], "dict[str, Any] | None"]  # wait up to s for the next control


class Failed(Exception):
    """The experiment ended early: a node status ("build_failed", ...) and why."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def run_experiment(
    spec: ExperimentSpec,
    emit: Callable[[str], None],
    *,
    control: Control | None = None,
    cancel: threading.Event | None = None,
    root: Path | None = None,
    host: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `spec` here, printing the line protocol through `emit`; return its summary
    (host, failure or None, command_s). A failing experiment is a `failed` line, never
    an exception."""
    runner = _Runner(spec, emit, cancel or threading.Event(), root or default_root())
    where = host or host_info()
    summary: dict[str, Any] = {"host": where, "failure": None}
    emit(format_status("host", where))
    try:
        runner.prepare()
        emit(format_status("ready"))
        runner.serve(control)
    except Failed as exc:
        summary["failure"] = {"status": exc.status, "reason": exc.reason}
        emit(format_status("failed", summary["failure"]))
    except Exception as exc:  # a bug or the host's trouble: said, never a silent end
        summary["failure"] = {"status": "crashed", "reason": f"the runner failed: {exc!r}"}
        emit(format_status("failed", summary["failure"]))
    finally:
        runner.cleanup()
        summary["command_s"] = round(runner.command_s, 6)
        emit(format_status("done", {"command_s": summary["command_s"]}))
    return summary


class _Runner:
    def __init__(
        self, spec: ExperimentSpec, emit: Callable[[str], None], cancel: threading.Event, root: Path
    ) -> None:
        self.spec = spec
        self.emit = emit
        self.cancel = cancel
        self.root = root
        self.repo = root / "cache.git"
        self.logs = root / "logs" / spec.exp_id
        self.metrics = [MetricSpec.model_validate(m) for m in spec.metrics]
        self.rng = random.Random(spec.seed)
        self.command_s = 0.0
        self.dirs: dict[str, Path] = {}
        self._candidate: Path | None = None
        self._parent_lock: IO[bytes] | None = None
        self.env = command_env(root / "bin")
        self.executor: Executor = LocalExecutor()
        if spec.sandbox is not None:
            from perfsup.workspace.sandbox import SandboxExecutor

            settings = SandboxSettings.model_validate(spec.sandbox)
            self.executor = SandboxExecutor(self.executor, settings, [root], lambda _l: None)

    # --------------------------------------------------------- worktrees
    def prepare(self) -> None:
        with host_lock(self.root):  # another task of this host may touch the cache
            self._fetch()
            parent = self._parent_tree()
            self.dirs = {PARENT: parent, CANDIDATE: parent}
            if self.spec.patch is not None:
                # One folder per attempt: a re-queued experiment may run on a second
                # worker of this host while the lost attempt is still cleaning up.
                work = self.root / "work" / f"{self.spec.exp_id}-{uuid.uuid4().hex[:8]}"
                candidate = self._worktree(work)
                self._candidate = candidate
        if self._candidate is not None:
            candidate = self._candidate
            self._apply(candidate)
            self.dirs[CANDIDATE] = candidate
            self._step("build", CANDIDATE, self.spec.build, "build_failed")
            self._step("check", CANDIDATE, self.spec.check, "checks_failed")

    def _fetch(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.repo / "HEAD").exists():
            _git(self.root, "init", "--quiet", "--bare", str(self.repo))
        if _git_ok(self.repo, "cat-file", "-e", f"{self.spec.parent_commit}^{{commit}}"):
            return  # this host already has it: nothing to transfer
        if self.spec.bundle is not None:
            with tempfile.NamedTemporaryFile(dir=self.root, suffix=".bundle") as handle:
                handle.write(self.spec.bundle)
                handle.flush()
                _git(self.repo, "fetch", "--quiet", handle.name, "+refs/*:refs/perfsup-in/*")
        elif self.spec.repo_url:
            _git(self.repo, "fetch", "--quiet", self.spec.repo_url, self.spec.parent_commit)
        if not _git_ok(self.repo, "cat-file", "-e", f"{self.spec.parent_commit}^{{commit}}"):
            raise Failed(
                "crashed", f"the parent commit {self.spec.parent_commit[:12]} never arrived"
            )

    def _worktree(self, path: Path) -> Path:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        _git(self.repo, "worktree", "prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        _git(
            self.repo, "worktree", "add", "--detach", "--quiet", str(path), self.spec.parent_commit
        )
        return path

    def _parent_tree(self) -> Path:
        """The parent's built worktree, reused while it stays cached (clean builds: not).

        Called under the host lock. The experiment holds a shared lock on the
        parent it uses until it ends, so that another experiment's clean-up of
        old parents (another engine, a re-queued task) never deletes it mid-way.
        """
        parents = self.root / "parents"
        path = parents / self.spec.parent_commit
        parents.mkdir(parents=True, exist_ok=True)
        self._parent_lock = file_lock(parents / f"{self.spec.parent_commit}.lock", shared=True)
        built = path / ".perfsup-built"
        if self.spec.plan or not built.exists():  # a cloud job builds from clean
            self._worktree(path)
            self.dirs[PARENT] = path
            self._step("build", PARENT, self.spec.build, "crashed", "the parent no longer builds")
            built.write_text("ok\n", encoding="utf-8")
        os.utime(path)
        old = sorted((p for p in parents.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for stale in old[:-_KEEP_PARENTS]:
            lock_path = stale.with_name(stale.name + ".lock")
            busy = file_lock(lock_path, shared=False, wait=False)
            if busy is None:
                continue  # in use by a running experiment: left for a later clean-up
            shutil.rmtree(stale, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # safe: lockers open it under the host lock
            busy.close()
        return path

    def _apply(self, worktree: Path) -> None:
        assert self.spec.patch is not None
        proc = subprocess.run(
            safe_argv("apply", "--whitespace=nowarn", "-"),
            cwd=worktree,
            env=clean_env(),
            input=self.spec.patch.encode(),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise Failed("crashed", f"the patch does not apply to the parent: {why[0]}")

    def cleanup(self) -> None:
        if self._parent_lock is not None:
            self._parent_lock.close()  # closing the file releases the lock
            self._parent_lock = None
        if self._candidate is not None:
            shutil.rmtree(self._candidate, ignore_errors=True)
            with contextlib.suppress(Failed, OSError), host_lock(self.root):
                _git(self.repo, "worktree", "prune")

    # ----------------------------------------------------------- commands
    def _run(
        self, step: str, side: str, command: Command, cwd: Path | None = None
    ) -> CommandResult:
        """Run one command of `side`, streaming its lines and its log's end line."""

        def on_line(stream: str, line: str) -> None:
            self.emit(format_output(step, side, stream, line))

        self.emit(format_status("step", {"step": step, "side": side}))
        start = time.monotonic()
        result = self.executor.run(
            command.run,
            cwd or self.dirs[side],
            self.logs / f"{step}.log",
            command.timeout_s,
            env=self.env,
            on_line=on_line,
            cancel=self.cancel,
        )
        spent = time.monotonic() - start
        # The command's own time, as the engine's overhead benchmark counts it
        # locally: our set-up and clean-up around it are the supervisor's.
        self.command_s += result.process_s
        # The engine's copy of the log ends the way a local one does: the
        # report reads how long each step took from this line.
        self.emit(format_output(step, side, "log", end_line(result)))
        self.emit(
            format_status(
                "step_done",
                {
                    "step": step,
                    "side": side,
                    "exit": result.exit_code,
                    "timed_out": result.timed_out,
                    "cancelled": result.cancelled,
                    "seconds": round(spent, 6),
                },
            )
        )
        if result.cancelled:
            raise Failed("cancelled", f"{step} was cancelled")
        return result

    def _step(
        self, step: str, side: str, command: Command | None, failed: str, why: str = ""
    ) -> None:
        if command is None:
            return
        result = self._run(step, side, command)
        failure = step_failure(step, result, command.timeout_s, NodeStatus(failed))
        if failure is None:
            return
        status, reason = failure
        if why and status == failed:  # e.g. the parent's build: say what it means
            reason = f"{why}: {failure_line(result.log_path)}"
        raise Failed(status, reason)

    # ---------------------------------------------------------- benchmark
    def serve(self, control: Control | None) -> None:
        controls = self._controls(control)
        pending = next(controls, None)
        while pending is not None and pending.get("do") == "pairs":
            pending = self._pass(pending, controls)

    def _controls(self, control: Control | None) -> Iterator[dict[str, Any]]:
        if control is None:  # no channel: the spec's plan, start to end
            for item in self.spec.plan:
                yield {"do": "pairs", "stops": [], **item}
            yield {"do": "finish"}
            return
        while True:
            if self.cancel.is_set():
                raise Failed("cancelled", "the experiment was cancelled")
            got = control(_CONTROL_WAIT_S)
            if got is not None:
                yield got

    def _pass(
        self, order: dict[str, Any], controls: Iterator[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """One pass of the shared pair loop; at each stop, wait for the next control."""
        phase = str(order.get("phase", "decide"))
        stops = {int(s) for s in order.get("stops", [])}
        pairs = int(order["pairs"])
        parent = self.dirs[PARENT]
        # A/A calibration: the parent on both sides
        dirs = {PARENT: parent, CANDIDATE: parent if order.get("aa") else self.dirs[CANDIDATE]}
        log = self.logs / "bench.log"
        interrupted: list[dict[str, Any] | None] = []

        def sink(side: str, index: int, warmup: bool, values: dict[str, float]) -> None:
            self.emit(
                format_status(
                    "sample", {"phase": phase, "side": side, "index": index, "warmup": warmup}
                )
            )
            self.emit(format_metric(values))

        def after_pair(outcome: BenchOutcome) -> bool:
            done = outcome.pairs_done
            if done not in stops or done >= pairs:
                return False
            self.emit(format_status("paused", {"phase": phase, "pairs": done}))
            nxt = next(controls, None)
            if nxt is not None and nxt.get("do") == "more":
                return False
            interrupted.append(nxt)  # the engine decided: the next order ends this pass
            return True

        def mark(line: str) -> None:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self.emit(format_output("bench", PARENT, "log", line))

        log.parent.mkdir(parents=True, exist_ok=True)
        outcome = run_pairs(
            executor=_BenchCommands(self, dirs),
            command=self.spec.bench.run,
            timeout_s=self.spec.bench.timeout_s,
            metrics=self.metrics,
            dirs=dirs,
            log_path=log,
            env=self.env,
            rng=self.rng,
            sink=sink,
            pairs=pairs,
            warmup=int(order.get("warmup", 0)),
            cancel=self.cancel,
            after_pair=after_pair,
            mark=mark,
        )
        if outcome.failure is not None:
            raise Failed(*outcome.failure)
        if interrupted:
            return interrupted[0]
        self.emit(format_status("phase_done", {"phase": phase}))
        return next(controls, None)


class _BenchCommands:
    """The pair loop's executor on a host: each run is a `bench` step of the runner,
    streamed back under the side whose build it runs in."""

    def __init__(self, runner: _Runner, dirs: dict[str, Path]) -> None:
        self.runner = runner
        self.dirs = dirs

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
        side = PARENT if cwd == self.dirs[PARENT] else CANDIDATE
        return self.runner._run("bench", side, Command(command, timeout_s), cwd)


# ------------------------------------------------------------------ helpers
def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        safe_argv(*args), cwd=cwd, capture_output=True, text=True, check=False, env=clean_env()
    )
    if proc.returncode != 0:
        raise Failed("crashed", f"git {args[0]} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _git_ok(cwd: Path, *args: str) -> bool:
    proc = subprocess.run(
        safe_argv(*args), cwd=cwd, capture_output=True, check=False, env=clean_env()
    )
    return proc.returncode == 0


def main(argv: list[str] | None = None) -> int:
    """Run a spec file with its own plan, printing the protocol on stdout."""
    parser = argparse.ArgumentParser(prog="python -m perfsup.workspace.experiment_runner")
    parser.add_argument("spec", type=Path, help="an ExperimentSpec as JSON")
    parser.add_argument("--root", type=Path, default=None, help="cache and worktree folder")
    args = parser.parse_args(argv)
    try:
        spec = ExperimentSpec.from_json(args.spec.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        print(f"perfsup runner: cannot read spec {args.spec}: {exc}", file=sys.stderr)
        return 2

    def emit(line: str) -> None:
        print(line, flush=True)

    run_experiment(spec, emit, root=args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
