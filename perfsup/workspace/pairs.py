"""Benchmark a candidate against its parent in interleaved, randomised pairs.

Both sides run on one host, one after the other, in an order drawn at random
for each pair (AB or BA), so drift and warm caches hit both alike. Warm-up
runs of each side come first and are recorded but not counted. A metric read
from callgrind comes from a second run of the side under valgrind (the timed
metrics come from the plain run).

This is the one pair loop: the engine runs it here (engine/measure.py) and
every other host runs it in the experiment runner (experiment_runner.py), so
a change to how a side is measured, or to what a failed run is called, is
made once for every executor.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfsup.config import MetricSpec
from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import wrap_command
from perfsup.store.models import NodeStatus
from perfsup.workspace.executor import Executor

__all__ = [
    "CANDIDATE",
    "PARENT",
    "BenchFailed",
    "BenchOutcome",
    "SampleSink",
    "run_pairs",
]

PARENT = "parent"
CANDIDATE = "candidate"

# (side, pair index, warm-up?, metric values) for every run, as it happens
SampleSink = Callable[[str, int, bool, dict[str, float]], None]


@dataclass
class BenchOutcome:
    """Paired samples per metric, or the reason benchmarking failed."""

    pairs: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    failure: tuple[NodeStatus, str] | None = None

    @property
    def pairs_done(self) -> int:
        first = next(iter(self.pairs.values()), ([], []))
        return len(first[1])


class BenchFailed(Exception):
    def __init__(self, status: NodeStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def run_pairs(
    *,
    executor: Executor,
    command: str,
    timeout_s: float,
    metrics: Sequence[MetricSpec],
    dirs: dict[str, Path],
    log_path: Path,
    env: Mapping[str, str],
    rng: random.Random,
    sink: SampleSink,
    pairs: int,
    warmup: int,
    cancel: threading.Event | None = None,
    after_pair: Callable[[BenchOutcome], bool] | None = None,
    mark: Callable[[str], None] | None = None,
) -> BenchOutcome:
    """Run `warmup` runs of each side, then up to `pairs` interleaved pairs.

    Stops at the first failure, or when `after_pair` (called after every pair
    with the samples so far) returns True: the sequential rule's early stop, or
    the runner's pause at a look. `mark(line)` notes which run comes next
    (default: a line in the bench log).
    """
    outcome = BenchOutcome(pairs={m.name: ([], []) for m in metrics})
    wrap_callgrind = any(m.source == "callgrind" and not m.path for m in metrics)
    note = mark or (lambda line: _mark(log_path, line))

    def measure(side: str, index: int, warmup: bool) -> dict[str, float]:
        label = f"warm-up {index + 1}" if warmup else f"pair {index + 1}"
        note(f"---- {label}: {side} ----")
        result = executor.run(command, dirs[side], log_path, timeout_s, env=env, cancel=cancel)
        whose = "the parent's" if side == PARENT else "the"
        if result.cancelled:
            raise BenchFailed(NodeStatus.CANCELLED, "benchmark aborted")
        if result.timed_out:
            raise BenchFailed(
                NodeStatus.TIMEOUT,
                f"{whose} benchmark did not finish within {timeout_s:g} s and was killed",
            )
        if result.exit_code != 0:
            raise BenchFailed(
                NodeStatus.CRASHED,
                f"{whose} benchmark exited with status {result.exit_code} (see bench log)",
            )
        if wrap_callgrind:
            # a separate run: callgrind slows the program tens of times, so the
            # timed metrics come from the plain run above
            counted = executor.run(
                wrap_command(command), dirs[side], log_path, timeout_s, env=env, cancel=cancel
            )
            if counted.timed_out or counted.exit_code != 0:
                raise BenchFailed(
                    NodeStatus.CRASHED,
                    f"{whose} benchmark under callgrind failed (status {counted.exit_code}, "
                    f"limit {timeout_s:g} s; see bench log)",
                )
        try:
            values = collect_metrics(result.stdout, dirs[side], metrics)
        except MetricParseError as exc:
            raise BenchFailed(NodeStatus.CRASHED, f"{whose} benchmark: {exc}") from None
        sink(side, index, warmup, values)
        return values

    try:
        for index in range(warmup):
            for side in (PARENT, CANDIDATE):
                measure(side, index, warmup=True)
        for index in range(pairs):
            order = [PARENT, CANDIDATE]
            rng.shuffle(order)
            got = {side: measure(side, index, warmup=False) for side in order}
            for name, (parent_values, candidate_values) in outcome.pairs.items():
                parent_values.append(got[PARENT][name])
                candidate_values.append(got[CANDIDATE][name])
            if after_pair is not None and after_pair(outcome):
                break
    except BenchFailed as exc:
        outcome.failure = (exc.status, exc.reason)
    return outcome


def _mark(log_path: Path, line: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
