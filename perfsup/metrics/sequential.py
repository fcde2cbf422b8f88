"""The sequential keep/discard rule (v3): looks at fixed numbers of pairs, early stops.

Pairs are judged at a few fixed looks (by default after 8, 12, 16 and 20
pairs, then every 5 pairs up to `max_pairs`) with the paired statistic of
`stats.py` (Hodges-Lehmann estimate of the gain, one-sided Wilcoxon
signed-rank p-values). At every look a metric is

- "better": p_better below this look's level and the estimate at or above the
  threshold (min_effect). The levels come from group-sequential alpha
  spending (`spending.py`, Lan-DeMets; Pocock-type by default), which keeps
  the overall false-keep rate at alpha while letting every look keep; v2 spent
  alpha / K per look (Bonferroni), 2.3% real at 5% nominal, and its first look
  could never keep;
- "worse": p_worse below the same level -- the label always matches the alpha
  it claims (v2 also called a whole interval below zero "worse" and printed a
  false "p < level");
- "tie" (stop): futile -- the upper end of the 1 - 2*alpha interval is below
  the threshold -- or, from the usual budget (bench.pairs) on, the estimate is
  not near the threshold (below (1 - near) x threshold); at the last look
  every metric that is not better or worse is a tie;
- "open": keep measuring, past the budget too while the estimate sits near
  the threshold (the extension, up to max_pairs).

A winner is re-verified on fresh pairs (`confirm`): the second pass must find
the gain significant on its own (threshold 0), and the pairs-weighted mean of
the two passes' estimates must reach the threshold. The second pass is not
selected for a large estimate, so pooling it with the first pulls the first
pass's winner's curse back towards the truth, at half the variance of
requiring the threshold twice (which threw away a quarter of real 3% gains).

How several metrics combine (the primary decides, the others guard) is in
`keep_rule.py`. `run_sequential` applies this rule to thousands of rows at
once; that is what `benchmarks/decision_sim.py` measures.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from perfsup.metrics.spending import Spending, nominal_levels
from perfsup.metrics.stats import Direction, PairedStats, Verdict, paired_stats

RULE_NAME = "sequential-hl-wilcoxon-v3"


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
NAMES = {code: code.verdict for code in VerdictCode}

# The first look: fewer pairs than this cannot reach the level of any look
# (the smallest one-sided signed-rank p of n pairs is 1 / 2**n).
FIRST_LOOK = 8


@dataclass(frozen=True)
class Plan:
    """When to look, how much alpha each look may spend, and when to extend.

    `looks` run up to the most pairs a pass may use (the extension included);
    `base_pairs` is the usual budget: from there on a pass goes on only while
    its estimate is near the threshold (within `near` of it, relative).
    """

    looks: tuple[int, ...]
    alpha: float
    spending: Spending = "pocock"
    base_pairs: int = 0  # 0: looks[-1], no extension
    near: float = 0.5

    def __post_init__(self) -> None:
        if not self.looks or list(self.looks) != sorted(set(self.looks)) or self.looks[0] < 1:
            raise ValueError(f"looks {self.looks!r}: expected increasing pair counts >= 1")
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"alpha = {self.alpha!r}: expected a number between 0 and 0.5")

    @property
    def levels(self) -> tuple[float, ...]:
        """The nominal one-sided level of every look (alpha spending)."""
        return nominal_levels(self.looks, self.alpha, self.spending)

    def level_at(self, pairs: int) -> float:
        """The nominal level of the look at `pairs` (the last look at or below it)."""
        index = max(0, bisect.bisect_right(self.looks, pairs) - 1)
        return self.levels[index]

    @property
    def max_pairs(self) -> int:
        return self.looks[-1]

    @property
    def budget(self) -> int:
        return self.base_pairs or self.looks[-1]

    def can_keep(self) -> bool:
        """Whether any look could ever reach its level (1 / 2**n below it)."""
        return any(0.5**n < level for n, level in zip(self.looks, self.levels, strict=True))


def default_looks(base_pairs: int, max_pairs: int = 0) -> tuple[int, ...]:
    """Looks from FIRST_LOOK pairs every 4 up to `base_pairs`, then every 5 to `max_pairs`."""
    max_pairs = max(max_pairs, base_pairs)
    if base_pairs <= FIRST_LOOK:
        looks = {base_pairs}
    else:
        looks = {*range(FIRST_LOOK, base_pairs - 1, 4), base_pairs}
    looks.update(range(base_pairs + 5, max_pairs, 5))
    looks.add(max_pairs)
    return tuple(sorted(looks))


def min_pairs(alpha: float) -> int:
    """The fewest pairs whose smallest possible one-sided signed-rank p is below alpha."""
    return max(1, math.floor(math.log2(1.0 / alpha)) + 1)


def threshold_log(threshold: float, direction: Direction) -> float:
    """The relative threshold (0.02 = 2% better) as a log gain."""
    if direction == "lower":
        return -math.log1p(-threshold) if threshold < 1.0 else math.inf
    return math.log1p(threshold)


def look_codes(
    gains: np.ndarray, threshold_logs: np.ndarray | float, plan: Plan, final: bool = False
) -> tuple[np.ndarray, PairedStats]:
    """The verdict code of every row of `gains` (rows x pairs) at one look.

    "better" and "worse" both need the one-sided p below this look's spent
    level, so a label always matches the alpha it claims. A futile row (upper
    end of the interval below the threshold) is a tie; from the budget on, a
    row goes on only while its estimate is near the threshold.
    """
    stats = paired_stats(gains, plan.alpha)
    n = stats.pairs
    level = plan.level_at(n)
    thr = np.broadcast_to(np.asarray(threshold_logs, dtype=float), stats.hl.shape)
    last = final or n >= plan.max_pairs
    codes = np.full(stats.hl.shape, TIE if last else OPEN, dtype=int)
    codes[stats.high < thr] = TIE
    if n >= plan.budget:
        codes[stats.hl < thr * (1.0 - plan.near)] = TIE
    better = (stats.p_better < level) & (stats.hl >= thr)
    worse = stats.p_worse < level
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
    for n in plan.looks:
        active = np.nonzero(codes == OPEN)[0]
        if len(active) == 0:
            break
        got, stats = look_codes(gains[active, :n], thr[active], plan)
        codes[active] = got
        pairs[active] = n
        hl[active] = stats.hl
        low[active] = stats.low
        high[active] = stats.high
    return SequentialResult(codes, pairs, hl, low, high)


def pooled_gain(
    first_gain: np.ndarray | float,
    first_pairs: np.ndarray | int,
    again_gain: np.ndarray | float,
    again_pairs: np.ndarray | int,
) -> np.ndarray:
    """The pairs-weighted mean of two passes' estimates (the re-verified gain)."""
    total = np.asarray(first_pairs) + np.asarray(again_pairs)
    weighted = np.asarray(first_gain) * first_pairs + np.asarray(again_gain) * again_pairs
    return np.asarray(weighted / np.maximum(total, 1))
