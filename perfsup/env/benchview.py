"""The `benchmarks` action: run the suite on the agent's tree and on the
baseline, summarise it and compare the two, benchstat-style.

This is what the agent reads to decide what to try next. It never earns
reward: a handful of runs of each side cannot tell a change from noise, and
the reward of a change comes from the interleaved A/B rule (reward.py).
"""

from __future__ import annotations

import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.gobench import parse_go_bench

if TYPE_CHECKING:
    from perfsup.env.episode import Episode, Ran
    from perfsup.env.models import PerfAction

__all__ = ["BenchView", "run_benchmarks"]

NO_REWARD = (
    "benchmarks never earn reward: a change is rewarded by the interleaved A/B rule "
    "when a patch or a flag set is applied"
)


@dataclass
class BenchView:
    """What one `benchmarks` action saw."""

    ran: Ran
    summary: dict[str, dict[str, float]]  # "Benchmark unit" -> mean, min, max, n
    comparison: str
    problem: str = ""  # why there is no summary


def is_go(tree: Path) -> bool:
    return (tree / "go.mod").is_file()


def go_bench_command(action: PerfAction) -> str:
    """`go test -bench` with the action's suite, -benchmem, -benchtime and -count."""
    parts = ["go", "test", "-run", "^$", "-bench", action.suite, "-benchtime", action.benchtime]
    parts += ["-count", str(action.count), "-timeout", f"{int(action.timeout_s)}s"]
    if action.benchmem:
        parts.append("-benchmem")
    return shlex.join([*parts, "."])


def run_benchmarks(episode: Episode, action: PerfAction) -> BenchView:
    """The suite on both trees: summary of the agent's, comparison with the baseline."""
    go = is_go(episode.tree)
    sides: dict[str, dict[str, list[float]]] = {}
    last: Ran | None = None
    for side, tree, flags in (
        ("baseline", episode.baseline, {}),
        ("current", episode.tree, episode.flags),
    ):
        if go:
            ran = episode.run(
                f"bench-{side}",
                go_bench_command(action),
                tree,
                action.timeout_s,
                episode.build_env(flags),
            )
            last = ran
            if not ran.ok:
                why = f"the {side} benchmarks failed (exit {ran.result.exit_code})"
                return BenchView(ran, {}, "", why)
            try:
                sides[side] = {
                    f"{r.name} {r.field}": r.values for r in parse_go_bench(ran.result.stdout)
                }
            except MetricParseError as exc:
                return BenchView(ran, {}, "", f"the {side} benchmarks: {exc}")
        else:
            if side == "current" and (failed := episode.build_tree()) is not None:
                return BenchView(failed, {}, "", "the current tree does not build")
            ran, values, problem = _configured_runs(episode, action, tree, flags)
            last = ran
            if problem:
                return BenchView(ran, {}, "", f"the {side} benchmark: {problem}")
            sides[side] = values
    assert last is not None
    summary = {
        key: {
            "mean": statistics.fmean(values),
            "min": min(values),
            "max": max(values),
            "n": float(len(values)),
        }
        for key, values in sides.get("current", {}).items()
    }
    return BenchView(last, summary, compare(sides.get("baseline", {}), sides.get("current", {})))


def _configured_runs(
    episode: Episode, action: PerfAction, tree: Path, flags: dict[str, str]
) -> tuple[Ran, dict[str, list[float]], str]:
    """The task's own benchmark command `count` times (a target without go.mod)."""
    values: dict[str, list[float]] = {}
    spec = episode.config.bench
    for _ in range(action.count):
        ran = episode.run(
            "bench", spec.run, tree, min(action.timeout_s, spec.timeout_s), episode.build_env(flags)
        )
        if not ran.ok:
            return ran, values, f"exit {ran.result.exit_code}"
        try:
            got = collect_metrics(ran.result.stdout, tree, episode.config.metrics)
        except MetricParseError as exc:
            return ran, values, str(exc)
        for name, value in got.items():
            values.setdefault(name, []).append(value)
    return ran, values, ""


def compare(baseline: dict[str, list[float]], current: dict[str, list[float]]) -> str:
    """One line per benchmark and unit: the two means and the change, with n."""
    if not baseline or not current:
        return ""
    width = max(len(k) for k in current)
    lines = [f"{'benchmark':<{width}}  {'baseline':>14}  {'current':>14}  {'change':>8}  n"]
    for key in current:
        if key not in baseline:
            continue
        base, cur = statistics.fmean(baseline[key]), statistics.fmean(current[key])
        change = f"{(cur - base) / base:+.1%}" if base else ("~" if cur == base else "new")
        lines.append(
            f"{key:<{width}}  {base:>14.4g}  {cur:>14.4g}  {change:>8}  "
            f"{len(baseline[key])}+{len(current[key])}"
        )
    lines.append(NO_REWARD)
    return "\n".join(lines)
