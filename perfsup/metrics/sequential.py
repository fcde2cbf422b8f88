"""The sequential keep/discard rule: looks at fixed numbers of pairs, early stops.

Pairs are judged at a few fixed looks (for example after 6, 10, 14 and 20
pairs) with the paired statistic of `stats.py` (Hodges-Lehmann estimate of the
log gain, one-sided Wilcoxon signed-rank p-values). At every look a metric is

- "better": p_better < alpha / K (K looks: the overall alpha is spent evenly
  over the looks, Bonferroni, so stopping early cannot push the false-keep
  rate above alpha) and the estimate reaches the calibrated threshold;
- "worse": p_worse < alpha / K, a significant regression of any size, or the
  whole 1 - 2*alpha interval below zero (worse only ever discards);
- "tie" (futile, stop): the upper end of the 1 - 2*alpha interval is below the
  threshold, so no amount of further pairs is likely to make it worth keeping;
  at the last look every metric that is not better or worse is a tie;
- "open": keep measuring.

Metrics are walked in priority order: "worse" discards, "better" keeps, a tie
lets the next metric speak, "open" waits for more pairs. A winner is then
re-verified on fresh pairs by the same procedure (`reverify` in the engine and
the simulation); only a second "better" keeps it, and the effect recorded is
the re-verified one.

`run_sequential` applies the same rule to thousands of rows at once; that is
what `benchmarks/decision_sim.py` measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from perfsup.config import MetricSpec
from perfsup.metrics.stats import (
    Decision,
    Direction,
    MetricDecision,
    PairedStats,
    Verdict,
    log_gains,
    paired_stats,
    to_effect,
)

RULE_NAME = "sequential-hl-wilcoxon-v2"


class VerdictCode(IntEnum):
    """A verdict as a number, for the vectorised rule's arrays (one per row)."""

    BETTER = 1
    WORSE = -1
    TIE = 0
    OPEN = 2

    @property
    def verdict(self) -> Verdict:
        return Verdict[self.name]


BETTER, WORSE, TIE, OPEN = VerdictCode.BETTER, VerdictCode.WORSE, VerdictCode.TIE, VerdictCode.OPEN


@dataclass(frozen=True)
class Plan:
    """When to look and how much alpha each look may spend."""

    looks: tuple[int, ...]
    alpha: float

    def __post_init__(self) -> None:
        if not self.looks or list(self.looks) != sorted(set(self.looks)) or self.looks[0] < 1:
            raise ValueError(f"looks {self.looks!r}: expected increasing pair counts >= 1")
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"alpha = {self.alpha!r}: expected a number between 0 and 0.5")

    @property
    def look_alpha(self) -> float:
        return self.alpha / len(self.looks)

    @property
    def max_pairs(self) -> int:
        return self.looks[-1]


def default_looks(max_pairs: int) -> tuple[int, ...]:
    """Looks for a budget of `max_pairs`: at 6 pairs, then every 4, and at the end."""
    if max_pairs <= 6:
        return (max_pairs,)
    return tuple(sorted({*range(6, max_pairs - 2, 4), max_pairs}))


def threshold_log(threshold: float, direction: Direction) -> float:
    """The relative threshold (0.02 = 2% better) as a log gain."""
    if direction == "lower":
        return -math.log1p(-threshold) if threshold < 1.0 else math.inf
    return math.log1p(threshold)


def look_codes(
    gains: np.ndarray, threshold_logs: np.ndarray | float, plan: Plan, final: bool
) -> tuple[np.ndarray, PairedStats]:
    """The verdict code of every row of `gains` (rows x pairs) at one look."""
    stats = paired_stats(gains, plan.alpha)
    thr = np.broadcast_to(np.asarray(threshold_logs, dtype=float), stats.hl.shape)
    codes = np.full(stats.hl.shape, TIE if final else OPEN, dtype=int)
    futile = stats.high < thr
    codes[futile] = TIE
    better = (stats.p_better < plan.look_alpha) & (stats.hl >= thr)
    # A whole interval below zero is a regression too: calling it "worse" (not a
    # futile tie) stops a lower-priority metric from keeping it.
    worse = (stats.p_worse < plan.look_alpha) | (stats.high < 0.0)
    codes[better] = BETTER
    codes[worse & ~better] = WORSE
    return codes, stats


@dataclass(frozen=True)
class SequentialResult:
    """Per row: the verdict code, pairs used and the log estimate at the stop."""

    codes: np.ndarray
    pairs: np.ndarray
    hl: np.ndarray
    low: np.ndarray
    high: np.ndarray


def run_sequential(
    gains: np.ndarray, threshold_logs: np.ndarray | float, plan: Plan
) -> SequentialResult:
    """Apply the rule to every row of `gains` (rows x plan.max_pairs), vectorised."""
    gains = np.atleast_2d(gains)
    rows = gains.shape[0]
    thr = np.broadcast_to(np.asarray(threshold_logs, dtype=float), (rows,)).copy()
    codes = np.full(rows, OPEN, dtype=int)
    pairs = np.zeros(rows, dtype=int)
    hl, low, high = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    for index, n in enumerate(plan.looks):
        active = np.nonzero(codes == OPEN)[0]
        if len(active) == 0:
            break
        final = index == len(plan.looks) - 1
        got, stats = look_codes(gains[active, :n], thr[active], plan, final)
        codes[active] = got
        pairs[active] = n
        hl[active] = stats.hl
        low[active] = stats.low
        high[active] = stats.high
    return SequentialResult(codes, pairs, hl, low, high)


@dataclass(frozen=True)
class LookResult:
    """The engine's view of one look: stop now or not, and the decision so far."""

    stop: bool
    decision: Decision


def judge_look(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    specs: Sequence[MetricSpec],
    thresholds: Mapping[str, float],
    plan: Plan,
    final: bool,
) -> LookResult:
    """Judge every metric at this look and walk them in priority order.

    Raises `ValueError` for samples a log ratio cannot use (zero, negative).
    """
    per_metric: list[MetricDecision] = []
    for spec in specs:
        parent, candidate = samples[spec.name]
        d = log_gains(spec.name, parent, candidate, spec.direction)
        threshold = thresholds.get(spec.name, 0.0)
        codes, stats = look_codes(d, threshold_log(threshold, spec.direction), plan, final)
        code = VerdictCode(int(codes[0]))
        p_better = float(stats.p_better[0])
        p_worse = float(stats.p_worse[0])
        per_metric.append(
            MetricDecision(
                metric=spec.name,
                verdict=code.verdict,
                effect=to_effect(float(stats.hl[0]), spec.direction),
                ci_low=to_effect(float(stats.low[0]), spec.direction),
                ci_high=to_effect(float(stats.high[0]), spec.direction),
                p_value=p_worse
                if code == WORSE
                else p_better
                if code == BETTER
                else min(p_better, p_worse),
                pairs=len(d),
                rule=RULE_NAME,
                threshold=threshold,
            )
        )
    level = f"{(1 - 2 * plan.alpha) * 100:.0f}% CI"
    notes: list[str] = []
    for m in per_metric:
        if m.verdict is Verdict.OPEN:
            return LookResult(False, Decision(False, "still measuring", per_metric, RULE_NAME))
        if m.verdict is Verdict.TIE:
            notes.append(
                f"{m.metric} tie ({m.effect * 100:+.1f}%, {level} {m.ci_low * 100:+.1f}.."
                f"{m.ci_high * 100:+.1f}%, threshold {m.threshold * 100:.1f}%, {m.pairs} pairs)"
            )
            continue
        size = m.effect if m.verdict is Verdict.BETTER else -m.effect
        notes.append(
            f"{m.metric} {size * 100:.1f}% {m.verdict} ({level} {m.ci_low * 100:+.1f}.."
            f"{m.ci_high * 100:+.1f}%, p={m.p_value:.2g} < {plan.look_alpha:.3g}, "
            f"threshold {m.threshold * 100:.1f}%, {m.pairs} pairs)"
        )
        return LookResult(
            True, Decision(m.verdict is Verdict.BETTER, "; ".join(notes), per_metric, RULE_NAME)
        )
    return LookResult(
        True, Decision(False, "no change worth keeping: " + "; ".join(notes), per_metric, RULE_NAME)
    )
