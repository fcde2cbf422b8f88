"""Benchmark a candidate against its parent in interleaved, randomised pairs.

Both sides run on this machine, one after the other, in an order drawn at
random for each pair (AB or BA), so drift and warm caches hit both alike.
Warm-up runs of each side come first and are recorded but not counted.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfsup.config import BenchSettings, MetricSpec
from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import wrap_command
from perfsup.store.models import NodeStatus
from perfsup.workspace.executor import Executor

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
    bench: BenchSettings,
    metrics: Sequence[MetricSpec],
    dirs: dict[str, Path],
    log_path: Path,
    env: dict[str, str],
    rng: random.Random,
    sink: SampleSink,
    cancel: threading.Event | None = None,
    pairs: int | None = None,
    warmup: int | None = None,
    after_pair: Callable[[BenchOutcome], bool] | None = None,
) -> BenchOutcome:
    """Run warm-ups, then up to `pairs` (default `bench.pairs`) interleaved pairs.

    Stops at the first failure, or when `after_pair` (called after every pair
    with the samples so far) returns True: the sequential rule's early stop.
    """
    outcome = BenchOutcome(pairs={m.name: ([], []) for m in metrics})
    wrap_callgrind = any(m.source == "callgrind" and not m.path for m in metrics)

    def measure(side: str, index: int, warmup: bool) -> dict[str, float]:
        label = f"warm-up {index + 1}" if warmup else f"pair {index + 1}"
        _mark(log_path, f"---- {label}: {side} ----")
        result = executor.run(
            bench.run, dirs[side], log_path, bench.timeout_s, env=env, cancel=cancel
        )
        whose = "the parent's" if side == PARENT else "the"
        if result.cancelled:
            raise BenchFailed(NodeStatus.CANCELLED, "benchmark aborted")
        if result.timed_out:
            raise BenchFailed(
                NodeStatus.TIMEOUT,
                f"{whose} benchmark did not finish within {bench.timeout_s:g} s and was killed",
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
                wrap_command(bench.run),
                dirs[side],
                log_path,
                bench.timeout_s,
                env=env,
                cancel=cancel,
            )
            if counted.timed_out or counted.exit_code != 0:
                raise BenchFailed(
                    NodeStatus.CRASHED,
                    f"{whose} benchmark under callgrind failed (status {counted.exit_code}, "
                    f"limit {bench.timeout_s:g} s; see bench log)",
                )
        try:
            values = collect_metrics(result.stdout, dirs[side], metrics)
        except MetricParseError as exc:
            raise BenchFailed(NodeStatus.CRASHED, f"{whose} benchmark: {exc}") from None
        sink(side, index, warmup, values)
        return values

    try:
        for index in range(bench.warmup if warmup is None else warmup):
            for side in (PARENT, CANDIDATE):
                measure(side, index, warmup=True)
        for index in range(bench.pairs if pairs is None else pairs):
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
