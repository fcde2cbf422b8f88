"""The engine's side of an experiment that runs on another engine (Dask, SkyPilot).

One experiment is one submission: the host builds parent and candidate,
checks the candidate and benchmarks both, so a candidate and its parent are
always measured on the same host. This module turns the streamed line
protocol back into node states, logs and samples, and lets the usual
`Measurer` decide: its sequential looks become the runner's pause points.

The host pool: every host is A/A-calibrated the first time it runs an
experiment of the run, with its own thresholds; a host whose A/A noise is too
high is taken out of the pool with an event (unless `on_noise = "raise"`, where
the threshold is raised instead, as on one machine). A host lost
mid-experiment re-queues the node: its partial samples are dropped (a
decision never mixes hosts) and it is submitted again.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlmodel import col, delete

from perfsup.config import Config
from perfsup.engine.clock import Clock
from perfsup.engine.controls import Controls, StepAborted
from perfsup.engine.host import Fingerprint
from perfsup.engine.layout import layout_bench
from perfsup.engine.measure import GuardStop, Judgement, Measurer
from perfsup.engine.rundir import RunPaths
from perfsup.store import EventKind, Node, NodeStatus, Sample, Store
from perfsup.store.tree import record_event
from perfsup.workspace.experiment import Command, Event, ExperimentSpec, LineReader
from perfsup.workspace.experiments import ExperimentExecutor, ExperimentHandle, ExperimentLost
from perfsup.workspace.pairs import CANDIDATE, PARENT, BenchOutcome, SampleSink
from perfsup.workspace.ship import BundleCache

__all__ = ["STEP_STATUS", "RemoteExperiments"]

_POLL_S = 0.2
_END_WAIT_S = 30.0
STEP_STATUS = {
    "build": NodeStatus.BUILDING,
    "check": NodeStatus.CHECKING,
    "bench": NodeStatus.BENCHMARKING,
}


class _Session:
    """One submitted experiment: reads its events, writes its logs."""

    def __init__(
        self,
        handle: ExperimentHandle,
        paths: RunPaths,
        node_id: str,
        on_step: Callable[[str], None],
        controls: Controls,
    ) -> None:
        self.handle = handle
        self.paths = paths
        self.node_id = node_id
        self.on_step = on_step
        self.controls = controls
        self.reader = LineReader()
        self.host: dict[str, Any] | None = None
        self.failure: tuple[NodeStatus, str] | None = None
        self.ended = False
        self.command_s = 0.0
        self.stops: list[int] = []
        self._decided = False
        self._pending: deque[Event] = deque()
        self._logs: dict[str, IO[str]] = {}

    def next_event(self) -> Event | None:
        """The next event; None when the stream ended. Obeys abort and stop."""
        while True:
            # Events already read come first: waiting for more lines while a
            # batch is half handled cost up to _POLL_S per event.
            while self._pending:
                event = self._pending.popleft()
                if self._note(event):
                    return event
            if self.ended:
                return None
            try:
                self.controls.raise_if_aborted()
            except StepAborted:
                self.handle.cancel()
                self.drain()
                raise
            for line in self.handle.lines(_POLL_S):
                read = self.reader.feed(line)
                if read is not None:
                    self._pending.append(read)

    def _note(self, event: Event) -> bool:
        """Book-keeping every event gets; True if the caller should see it."""
        kind = event.kind
        if kind == "output":
            step = str(event.data.get("step") or "bench")
            self._log(step).write(event.text + "\n")
            return False
        if kind == "host":
            if self.host is not None and self.host != event.data:
                raise ExperimentLost("the experiment moved to another host mid-way")
            self.host = event.data
        elif kind == "step":
            step = str(event.data.get("step"))
            self._log(step).write(f"--- perfsup: {step} of the {event.data.get('side')} ---\n")
            self.on_step(step)
        elif kind == "failed":
            self.failure = (NodeStatus(event.data["status"]), str(event.data["reason"]))
        elif kind == "done":
            self.ended = True
            self.command_s = float(event.data.get("command_s", 0.0))
        return True

    def _log(self, step: str) -> IO[str]:
        handle = self._logs.get(step)
        if handle is None:
            path = self.paths.log(self.node_id, step)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._logs[step] = path.open("a", encoding="utf-8")
        return handle

    def wait_ready(self) -> None:
        while True:
            event = self.next_event()
            if event is None or event.kind in ("ready", "failed"):
                return

    def drain(self, timeout_s: float = _END_WAIT_S) -> None:
        """Read to the end (the host cleans up); bounded."""
        end = time.monotonic() + timeout_s
        while not self.ended and time.monotonic() < end:
            for line in self.handle.lines(_POLL_S):
                event = self.reader.feed(line)
                if event is not None:
                    self._note(event)
        self.close()

    def finish(self) -> None:
        if not self.ended and self.handle.two_way:
            self.handle.send({"do": "finish"})
        elif not self.ended:
            self.handle.cancel()  # one-way: the plan may still run; we know enough
        self.drain()

    def close(self) -> None:
        for handle in self._logs.values():
            handle.close()
        self._logs.clear()

    def fingerprint(self) -> Fingerprint:
        host = self.host or {}
        return Fingerprint(
            cpu_model=str(host.get("cpu_model", "")),
            cpu_count=host.get("cpu_count"),
            governor=None,
            load_avg=host.get("load_avg"),
            on_battery=None,
        )

    def run_pairs(
        self,
        *,
        metrics: Any,
        dirs: dict[str, Path],
        sink: SampleSink,
        pairs: int,
        warmup: int,
        after_pair: Callable[[BenchOutcome], bool] | None = None,
        **_: Any,
    ) -> BenchOutcome:
        """`pairs.run_pairs` as the Measurer calls it, run by the runner on the
        session's host: this side only orders passes and reads their samples."""
        outcome = BenchOutcome(pairs={m.name: ([], []) for m in metrics})
        aa = dirs[PARENT] == dirs[CANDIDATE]
        # The Measurer asks for: calibrate (when due), decide, then verify.
        phase = "calibrate" if aa else ("verify" if self._decided else "decide")
        self._decided = self._decided or not aa
        order = {
            "do": "pairs",
            "phase": phase,
            "aa": aa,
            "warmup": warmup,
            "pairs": pairs,
            "stops": [] if aa else self.stops,
        }
        if self.handle.two_way:
            self.handle.send(order)
        got: dict[int, dict[str, dict[str, float]]] = {}
        while True:
            event = self.next_event()
            if event is None or event.kind == "failed":
                outcome.failure = self.failure or (NodeStatus.CRASHED, "the host stopped early")
                return outcome
            if event.data.get("phase", phase) != phase:
                continue  # a pass of a one-way plan the Measurer did not ask for
            if event.kind == "sample" and event.sample is not None:
                s = event.sample
                sink(s.side, s.index, s.warmup, s.values)
                if s.warmup:
                    continue
                sides = got.setdefault(s.index, {})
                sides[s.side] = s.values
                if len(sides) == 2:
                    for name, (parent_values, candidate_values) in outcome.pairs.items():
                        parent_values.append(sides[PARENT][name])
                        candidate_values.append(sides[CANDIDATE][name])
                    if after_pair is not None and after_pair(outcome):
                        return outcome  # the runner pauses here; the next order resumes it
            elif event.kind == "paused":
                self.handle.send({"do": "more"})
            elif event.kind == "phase_done":
                return outcome


class RemoteExperiments:
    """Runs the engine's experiments through an `ExperimentExecutor`."""

    def __init__(
        self,
        *,
        executor: ExperimentExecutor,
        config: Config,
        store: Store,
        paths: RunPaths,
        repo: Path,
        controls: Controls,
        clock: Clock,
        rng: random.Random,
        report: Callable[[str], None],
        max_requeues: int = 2,
    ) -> None:
        self.executor = executor
        self.config = config
        self.store = store
        self.paths = paths
        self.controls = controls
        self.clock = clock
        self.rng = rng
        self.report = report
        self.max_requeues = max_requeues
        self.bundles = BundleCache(repo)
        self.measurers: dict[str, Measurer] = {}  # per host: its own thresholds
        self.removed: set[str] = set()
        # The pool calibrates with "raise" and decides itself what noise means.
        decision = config.decision.model_copy(update={"on_noise": "raise"})
        self._pool_config = config.model_copy(update={"decision": decision})
        self.command_s = 0.0  # time the hosts spent in commands (for the benchmark)

    def spec(self, node: Node, parent: Node, diff: str) -> ExperimentSpec:
        assert parent.commit_sha is not None
        c = self.config
        laid_out = layout_bench(c.bench, c.build)  # bench.layout: see layout.py
        bench = Command(laid_out.run, laid_out.timeout_s)
        plan: list[dict[str, Any]] = []
        if self.executor.kind == "skypilot":  # no way back: run every pass to its end
            pairs = c.max_pairs  # the extension near the threshold included
            plan = [{"phase": "decide", "warmup": c.bench.warmup, "pairs": pairs}]
            if c.decision.calibration_pairs:
                calibrate = {"phase": "calibrate", "aa": True, "warmup": c.bench.warmup}
                plan.insert(0, {**calibrate, "pairs": c.decision.calibration_pairs})
            if c.decision.reverify:
                plan.append({"phase": "verify", "warmup": 0, "pairs": pairs})
        return ExperimentSpec(
            exp_id=node.id,
            parent_commit=parent.commit_sha,
            patch=diff,
            bench=bench,
            metrics=[m.model_dump() for m in c.metrics],
            build=Command(c.build.run, c.build.timeout_s) if c.build else None,
            check=Command(c.check.run, c.check.timeout_s) if c.check else None,
            bundle_b64=self.bundles.bundle_b64(parent.commit_sha),
            seed=self.rng.randrange(2**31),
            plan=plan,
        )

    def judge(
        self, run_id: int, node: Node, parent: Node, diff: str, on_step: Callable[[str], None]
    ) -> Judgement:
        """Run the experiment somewhere and judge it; re-queued when its host is lost."""
        spec = self.spec(node, parent, diff)
        for attempt in range(self.max_requeues + 1):
            try:
                return self._attempt(run_id, node, spec, on_step)
            except ExperimentLost as exc:
                self._drop_samples(node.id)
                if attempt == self.max_requeues:
                    return Judgement(failure=(NodeStatus.INTERRUPTED, f"host lost: {exc}"))
                self._event(
                    run_id, node.id, EventKind.NODE_REQUEUED, f"{exc}; the node is re-queued"
                )
                self.report(f"{node.id:<10} {exc}; re-queued")
                on_step("queued")
        raise AssertionError("unreachable")

    def _attempt(
        self, run_id: int, node: Node, spec: ExperimentSpec, on_step: Callable[[str], None]
    ) -> Judgement:
        handle = self.executor.submit(spec, frozenset(self.removed))
        session = _Session(handle, self.paths, node.id, on_step, self.controls)
        try:
            session.wait_ready()
            if session.failure is not None:
                return Judgement(failure=session.failure)
            key = self._key(session)
            if key in self.removed:  # an executor that cannot exclude hosts put it there
                raise ExperimentLost(f"host {key} is out of the pool")
            measurer = self._measurer(key, session)
            dirs = {
                PARENT: self.paths.worktrees / "remote-parent",
                CANDIDATE: self.paths.worktrees / node.id,
            }
            if measurer.due():
                same = {PARENT: dirs[PARENT], CANDIDATE: dirs[PARENT]}
                log = self.paths.log(node.id, "calibrate")
                measurer.calibrate(run_id, node, same[PARENT], log)
                if measurer.too_noisy and self.config.decision.on_noise != "raise":
                    self._remove(run_id, node, key)
                    raise ExperimentLost(f"host {key} left the pool (A/A noise too high)")
            session.stops = list(measurer.plan.looks)
            judgement = measurer.judge(run_id, node, dirs, self.paths.log(node.id, "bench"))
            return judgement
        except ExperimentLost:
            handle.cancel()
            session.ended = True  # nothing more comes from a lost host: no drain
            session.close()
            raise
        finally:
            if not session.ended:
                session.finish()
            session.close()
            self.command_s += session.command_s

    def _key(self, session: _Session) -> str:
        host = session.host or {}
        return str(host.get("worker") or host.get("host") or "?")

    def _measurer(self, key: str, session: _Session) -> Measurer:
        measurer = self.measurers.get(key)
        if measurer is None:
            measurer = self.measurers[key] = Measurer(
                config=self._pool_config,
                store=self.store,
                executor=_NoCommands(),
                env={},
                rng=self.rng,
                clock=self.clock,
                report=self.report,
                host=str((session.host or {}).get("host", key)),
                set_state=self.controls.set_state,
                wait_quiet=False,
            )
        # Rebind to this session: its pairs, its host's fingerprint.
        measurer.pairs_fn = session.run_pairs
        measurer.where = session.fingerprint
        return measurer

    def _remove(self, run_id: int, node: Node, key: str) -> None:
        self.removed.add(key)
        text = f"host {key} taken out of the pool: its A/A noise hides the minimum effect"
        self._event(run_id, node.id, EventKind.HOST_REMOVED, text)
        self.report(text)
        pool = getattr(self.executor, "hosts", None)
        if callable(pool) and not set(pool()) - self.removed:
            raise GuardStop("no host left in the pool: every host is too noisy")

    def _drop_samples(self, node_id: str) -> None:
        with self.store.session() as s:
            s.exec(delete(Sample).where(col(Sample.node_id) == node_id))

    def _event(self, run_id: int, node_id: str | None, kind: EventKind, text: str) -> None:
        with self.store.session() as s:
            record_event(s, kind, text, run_id=run_id, node_id=node_id)


class _NoCommands:
    """The remote Measurer never runs a command itself: its pairs come from the host."""

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a remote experiment runs its commands on its host")
