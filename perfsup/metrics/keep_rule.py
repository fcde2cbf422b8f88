"""One look of the keep rule over every metric: the primary decides, the others guard.

Roles (rule v3):

- the primary metric (the first configured) decides with the sequential rule
  of `sequential.py`: "better", "worse", "tie" or "open";
- every other metric is a guard with a tolerated regression (its
  `tolerance`, else `[decision] guard_tolerance`): a keep needs the primary
  "better" and no guard significantly worse beyond its tolerance (one-sided
  signed-rank test of "worse by more than the tolerance" at alpha; blocking is
  the safe direction, so it is not spread over looks);
- a tie on the primary never becomes a keep through another metric, unless
  the config says the metrics are lexicographic and the primary is shown not
  worse (non-inferior within its tolerance at alpha); then the next metric
  decides, the rest guard.

Every metric's verdict is recorded with its role and a note saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from perfsup.config import MetricSpec
from perfsup.metrics.scales import Scale, effect_of, gain_of, loss_of, metric_gains, resolve_scale
from perfsup.metrics.sequential import (
    NAMES,
    RULE_NAME,
    Plan,
    VerdictCode,
    look_codes,
    pooled_gain,
)
from perfsup.metrics.stats import Decision, MetricDecision, PairedStats, paired_stats

DEFAULT_TOLERANCE = 0.03


@dataclass(frozen=True)
class LookResult:
    """The engine's view of one look: stop now or not, and the decision so far."""

    stop: bool
    decision: Decision


@dataclass(frozen=True)
class _Metric:
    spec: MetricSpec
    scale: Scale
    gains: np.ndarray
    tolerance: float


def judge_look(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    specs: Sequence[MetricSpec],
    thresholds: Mapping[str, float],
    plan: Plan,
    final: bool = False,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    lexicographic: bool = False,
) -> LookResult:
    """Judge the metrics at this look (`final`: no more pairs will come).

    Raises `ValueError` naming the metric for samples its scale cannot use.
    """
    metrics = [
        _Metric(
            spec,
            resolve_scale(spec),
            metric_gains(spec, *samples[spec.name]),
            spec.tolerance if spec.tolerance is not None else tolerance,
        )
        for spec in specs
    ]
    level = plan.level_at(len(metrics[0].gains))
    per_metric: dict[str, MetricDecision] = {}
    notes: list[str] = []
    decider = 0
    while True:
        m = metrics[decider]
        threshold = thresholds.get(m.spec.name, 0.0)
        thr = gain_of(threshold, m.spec.direction, m.scale)
        codes, stats = look_codes(m.gains, thr, plan, final)
        verdict = NAMES[VerdictCode(int(codes[0]))]
        record = _record(m, stats, verdict, "primary" if decider == 0 else "decider", threshold)
        if verdict == "open":
            per_metric[m.spec.name] = replace(record, note="still measuring")
            return LookResult(False, _decision(False, "still measuring", metrics, per_metric))
        if verdict == "tie" and lexicographic and decider + 1 < len(metrics):
            shown = _not_worse(m, plan.alpha)
            note = (
                f"tie, shown not worse than its {m.tolerance:.1%} tolerance: the next decides"
                if shown
                else f"tie, not shown within its {m.tolerance:.1%} tolerance"
            )
            per_metric[m.spec.name] = replace(record, note=note)
            notes.append(_tie_text(record, plan) + ("" if shown else ", not shown not worse"))
            if shown:
                decider += 1
                continue
            break
        if verdict == "tie":
            per_metric[m.spec.name] = replace(record, note="tie: no change worth keeping")
            notes.append(_tie_text(record, plan))
            break
        size = record.effect if verdict == "better" else -record.effect
        per_metric[m.spec.name] = replace(record, note=f"{verdict} at the spent level {level:.3g}")
        notes.append(
            f"{m.spec.name} {size * 100:.1f}% {verdict} ({_ci(record, plan)}, "
            f"p={record.p_value:.2g} < {level:.3g}, threshold {threshold * 100:.1f}%, "
            f"{record.pairs} pairs)"
        )
        break
    decided = per_metric[metrics[decider].spec.name].verdict
    keep = decided == "better"
    blocked = False
    for m in metrics:
        if m.spec.name in per_metric:
            continue
        guard, text = _guard(m, plan.alpha)
        per_metric[m.spec.name] = guard
        if keep:
            notes.append(text)
        blocked = blocked or guard.verdict == "worse"
    if keep and blocked:
        reason = "; ".join(notes) + ": not kept, a guard metric regressed"
        return LookResult(True, _decision(False, reason, metrics, per_metric))
    if keep or decided == "worse":
        return LookResult(True, _decision(keep, "; ".join(notes), metrics, per_metric))
    return LookResult(
        True, _decision(False, "no change worth keeping: " + "; ".join(notes), metrics, per_metric)
    )


def _record(
    m: _Metric, stats: PairedStats, verdict: str, role: str, threshold: float
) -> MetricDecision:
    p_better, p_worse = float(stats.p_better[0]), float(stats.p_worse[0])
    p_value = (
        p_worse
        if verdict == "worse"
        else p_better
        if verdict == "better"
        else min(p_better, p_worse)
    )
    direction = m.spec.direction
    return MetricDecision(
        metric=m.spec.name,
        verdict=verdict,  # type: ignore[arg-type]
        effect=effect_of(float(stats.hl[0]), direction, m.scale),
        ci_low=effect_of(float(stats.low[0]), direction, m.scale),
        ci_high=effect_of(float(stats.high[0]), direction, m.scale),
        p_value=p_value,
        pairs=stats.pairs,
        rule=RULE_NAME,
        threshold=threshold,
        role=role,
    )


def _guard(m: _Metric, alpha: float) -> tuple[MetricDecision, str]:
    """A guard's verdict: "worse" when significantly worse beyond its tolerance, else "tie"."""
    shift = loss_of(m.tolerance, m.spec.direction, m.scale)
    beyond = paired_stats(m.gains + shift, alpha)  # below zero: worse by more than tolerance
    stats = paired_stats(m.gains, alpha)
    p_beyond = float(beyond.p_worse[0])
    worse = p_beyond < alpha
    record = replace(_record(m, stats, "worse" if worse else "tie", "guard", 0.0), p_value=p_beyond)
    change = f"{record.effect * 100:+.1f}%"
    if worse:
        note = f"worse beyond its {m.tolerance:.1%} tolerance (p={p_beyond:.2g} < {alpha:g})"
    else:
        note = f"within its {m.tolerance:.1%} tolerance"
    return replace(record, note=note), f"guard {m.spec.name} {change}, {note}"


def _not_worse(m: _Metric, alpha: float) -> bool:
    """Non-inferiority: the metric is shown better than "worse by its tolerance"."""
    shift = loss_of(m.tolerance, m.spec.direction, m.scale)
    return bool(paired_stats(m.gains + shift, alpha).p_better[0] < alpha)


def _ci(record: MetricDecision, plan: Plan) -> str:
    return (
        f"{(1 - 2 * plan.alpha) * 100:.0f}% CI {record.ci_low * 100:+.1f}.."
        f"{record.ci_high * 100:+.1f}%"
    )


def _tie_text(record: MetricDecision, plan: Plan) -> str:
    return (
        f"{record.metric} tie ({record.effect * 100:+.1f}%, {_ci(record, plan)}, threshold "
        f"{record.threshold * 100:.1f}%, {record.pairs} pairs)"
    )


def _decision(
    keep: bool, reason: str, metrics: list[_Metric], per_metric: dict[str, MetricDecision]
) -> Decision:
    ordered = [per_metric[m.spec.name] for m in metrics if m.spec.name in per_metric]
    return Decision(keep, reason, ordered, RULE_NAME)


def confirm(
    first: Decision,
    again: Decision,
    specs: Sequence[MetricSpec],
    thresholds: Mapping[str, float],
) -> Decision:
    """The re-verified decision: `again` (fresh pairs, judged at threshold 0) must keep,
    and the pairs-weighted mean of both passes' estimates must reach the threshold.

    The decision returned carries the fresh pass's per-metric numbers (its
    estimate is not selected for being large), with the real threshold.
    """
    winner = next((m for m in first.per_metric if m.verdict == "better"), None)
    if winner is None or not first.keep:
        return first
    spec = next(s for s in specs if s.name == winner.metric)
    scale = resolve_scale(spec)
    threshold = thresholds.get(winner.metric, 0.0)
    fresh = next((m for m in again.per_metric if m.metric == winner.metric), None)
    per_metric = [
        replace(m, threshold=threshold) if m.metric == winner.metric else m
        for m in again.per_metric
    ]
    if not again.keep or fresh is None:
        reason = f"first pass: {first.reason}; not confirmed on fresh pairs: {again.reason}"
        return Decision(False, reason, per_metric, RULE_NAME)
    gains = [gain_of(m.effect, spec.direction, scale) for m in (winner, fresh)]
    pooled_value = float(pooled_gain(gains[0], winner.pairs, gains[1], fresh.pairs))
    pooled = effect_of(pooled_value, spec.direction, scale)
    keep = pooled_value >= gain_of(threshold, spec.direction, scale)
    both = (
        f"{winner.metric} {pooled * 100:+.1f}% over both passes (first {winner.effect * 100:+.1f}%"
        f" in {winner.pairs} pairs, fresh {fresh.effect * 100:+.1f}% in {fresh.pairs} pairs)"
    )
    if keep:
        return Decision(True, f"re-verified: {again.reason}; {both}", per_metric, RULE_NAME)
    reason = (
        f"first pass: {first.reason}; confirmed better on fresh pairs, but {both} is below the "
        f"{threshold:.1%} threshold"
    )
    return Decision(False, reason, per_metric, RULE_NAME)
