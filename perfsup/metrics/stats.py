"""A first, honest keep/discard rule: paired Wilcoxon signed-rank on log ratios.

How it decides, per metric:

1. Pair i is (parent[i], candidate[i]), measured back to back. Its statistic is
   the log ratio d_i = log(parent/candidate) for a lower-is-better metric and
   log(candidate/parent) for a higher-is-better one, so d > 0 always means the
   candidate is better. Log ratios make the rule scale-free and symmetric.
2. Significance: one-sided Wilcoxon signed-rank tests from `scipy.stats`
   (d > 0 for "better", d < 0 for "worse"). With 6 pairs the smallest possible
   p-value is 1/64, so fewer than 5 pairs can never reach alpha = 0.05: the
   rule answers "tie" rather than pretend.
3. Estimate: the Hodges-Lehmann estimator, the median of the Walsh averages
   (d_i + d_j) / 2 for i <= j. It is the estimate that goes with the signed-rank
   test and shrugs off a few outliers.
4. Interval: distribution-free, from order statistics of the sorted Walsh
   averages, with ranks taken from the exact null distribution of the
   signed-rank statistic (normal approximation above 100 pairs). Its level is
   1 - 2*alpha (90% for alpha = 0.05): the two-sided interval dual to the
   one-sided test at alpha, so "better" comes with a lower bound above zero.
5. Effect: the log estimate is turned into a relative change in the metric's
   own units, signed so that positive is better: lower-is-better
   1 - exp(-hl) (0.10 = time 10% lower); higher-is-better exp(hl) - 1
   (0.10 = throughput 10% higher). The interval is mapped the same way.

Verdict: "better" if p_better < alpha and effect >= min_effect; "worse" if
p_worse < alpha and effect <= -min_effect; otherwise "tie".

`decide` goes through the metrics in priority order: the first non-tie
decides; a tie lets the next one speak. It is the fixed-sample rule; the engine
uses the sequential, A/A-calibrated rule of `sequential.py`, which is built on
`paired_stats` below (the same statistic, vectorised over many rows so the
decision simulation can run the very same code on thousands of experiments).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from perfsup.config import MetricSpec

RULE_NAME = "wilcoxon-paired-log-ratio-v1"


class Verdict(StrEnum):
    """The verdict on one metric (stored by value in Node.decision_json)."""

    BETTER = "better"
    WORSE = "worse"
    TIE = "tie"
    OPEN = "open"  # the sequential rule wants more pairs


Direction = Literal["lower", "higher"]

_EXACT_MAX_PAIRS = 100  # above this the normal approximation of the null is accurate


@dataclass(frozen=True)
class MetricDecision:
    """The verdict on one metric, with the numbers behind it."""

    metric: str
    verdict: Verdict
    effect: float  # relative gain in the good direction: +0.10 means 10% better
    ci_low: float  # interval of `effect`, level 1 - 2*alpha
    ci_high: float
    p_value: float  # one-sided p of the verdict's direction; for a tie the smaller one
    pairs: int
    rule: str
    threshold: float = 0.0  # the minimum effect this verdict was held to
    role: str = "primary"  # "primary", "decider" (lexicographic) or "guard"
    note: str = ""  # why this verdict, in words


@dataclass(frozen=True)
class Decision:
    """Keep or discard a candidate, with a one-line reason and every metric's verdict."""

    keep: bool
    reason: str
    per_metric: list[MetricDecision]
    rule: str


def decide_metric(
    name: str,
    parent: Sequence[float],
    candidate: Sequence[float],
    direction: Direction,
    min_effect: float,
    alpha: float,
) -> MetricDecision:
    """Judge one metric from paired samples; see the module docstring for the rule.

    Raises `ValueError` (naming the metric) for unequal or empty samples, values
    that are zero, negative or not finite (a log ratio needs positive numbers),
    or an alpha outside (0, 0.5).
    """
    d = _log_ratios(name, parent, candidate, direction)
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha = {alpha!r}: expected a number between 0 and 0.5")
    walsh = _walsh_averages(d)
    hl = float(np.median(walsh))
    low_rank = _ci_rank(len(d), alpha)
    log_low, log_high = float(walsh[low_rank]), float(walsh[len(walsh) - 1 - low_rank])
    effect = _to_effect(hl, direction)
    p_better, p_worse = _one_sided_p_values(d)
    verdict = Verdict.TIE
    p_value = min(p_better, p_worse)
    if p_better < alpha and effect >= min_effect:
        verdict, p_value = Verdict.BETTER, p_better
    elif p_worse < alpha and effect <= -min_effect:
        verdict, p_value = Verdict.WORSE, p_worse
    return MetricDecision(
        metric=name,
        verdict=verdict,
        effect=effect,
        ci_low=_to_effect(log_low, direction),
        ci_high=_to_effect(log_high, direction),
        p_value=p_value,
        pairs=len(d),
        rule=RULE_NAME,
    )


def decide(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    specs: Sequence[MetricSpec],
    min_effect: float,
    alpha: float,
) -> Decision:
    """Keep or discard from (parent, candidate) samples of every metric in `specs`.

    `specs` is the priority order. The first metric with a non-tie verdict
    decides: kept if it is "better" (every higher metric then was a tie), not
    kept if "worse". All ties: not kept. Every metric is judged and reported.
    Raises `ValueError` if a metric of `specs` has no samples.
    """
    if not specs:
        raise ValueError("no metrics to decide on; expected at least one metric spec")
    missing = [spec.name for spec in specs if spec.name not in samples]
    if missing:
        raise ValueError(
            f"no samples for metric(s) {', '.join(missing)}; expected (parent, candidate) "
            f"samples for every configured metric, got {', '.join(samples) or 'none'}"
        )
    level = 1.0 - 2.0 * alpha
    per_metric = [
        decide_metric(spec.name, *samples[spec.name], spec.direction, min_effect, alpha)
        for spec in specs
    ]
    ties: list[str] = []
    for decision in per_metric:
        if decision.verdict is Verdict.TIE:
            ties.append(_describe_tie(decision, min_effect, alpha))
            continue
        reason = "; ".join([*ties, _describe(decision, level)])
        return Decision(decision.verdict is Verdict.BETTER, reason, per_metric, RULE_NAME)
    reason = "no significant change: " + "; ".join(ties)
    return Decision(False, reason, per_metric, RULE_NAME)


@dataclass(frozen=True)
class PairedStats:
    """The paired statistic of many rows of log gains at once (one row per experiment).

    Every array has one entry per row. `hl`, `low`, `high` are on the log scale
    (positive is better); the interval has level 1 - 2*alpha.
    """

    hl: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_better: np.ndarray
    p_worse: np.ndarray
    pairs: int


def log_gains(
    name: str, parent: Sequence[float], candidate: Sequence[float], direction: Direction
) -> np.ndarray:
    """Validated log ratios, positive when the candidate is better (see `decide_metric`)."""
    return _log_ratios(name, parent, candidate, direction)


def paired_stats(gains: np.ndarray, alpha: float) -> PairedStats:
    """Hodges-Lehmann estimate, its interval and one-sided Wilcoxon p-values per row.

    `gains` is 1-D (one experiment) or 2-D (rows x pairs). Rows without exact
    zeros go through SciPy's vectorised exact signed-rank test in one call; a
    row with zeros (identical timings) is done alone, zeros dropped as
    Wilcoxon does.
    """
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha = {alpha!r}: expected a number between 0 and 0.5")
    d = np.atleast_2d(np.asarray(gains, dtype=float))
    rows, n = d.shape
    if n == 0:
        raise ValueError("no pairs; expected at least one pair per row")
    i, j = np.triu_indices(n)
    walsh = np.sort((d[:, i] + d[:, j]) / 2.0, axis=1)
    k = _ci_rank(n, alpha)
    hl = np.median(walsh, axis=1)
    low, high = walsh[:, k], walsh[:, walsh.shape[1] - 1 - k]
    p_better = np.ones(rows)
    p_worse = np.ones(rows)
    clean = ~np.any(d == 0.0, axis=1)
    if clean.any():
        exact = n <= 50
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            method = "exact" if exact else "asymptotic"
            block = d[clean]
            p_better[clean] = wilcoxon(block, alternative="greater", method=method, axis=1).pvalue
            p_worse[clean] = wilcoxon(block, alternative="less", method=method, axis=1).pvalue
    for row in np.nonzero(~clean)[0]:
        p_better[row], p_worse[row] = _one_sided_p_values(d[row])
    p_better = np.where(np.isfinite(p_better), p_better, 1.0)
    p_worse = np.where(np.isfinite(p_worse), p_worse, 1.0)
    return PairedStats(hl, low, high, p_better, p_worse, n)


def to_effect(log_gain: float, direction: Direction) -> float:
    """A log gain as a relative change in the metric's units, positive is better."""
    return _to_effect(log_gain, direction)


def _log_ratios(
    name: str, parent: Sequence[float], candidate: Sequence[float], direction: Direction
) -> np.ndarray:
    if len(parent) != len(candidate):
        raise ValueError(
            f"metric {name}: {len(parent)} parent samples but {len(candidate)} candidate "
            "samples; expected paired samples of equal length"
        )
    if not parent:
        raise ValueError(f"metric {name}: no samples; expected at least one pair")
    for side, values in (("parent", parent), ("candidate", candidate)):
        for index, value in enumerate(values):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"metric {name}: {side} sample {index} is {value!r}; the paired log-ratio "
                    "rule needs finite positive values (a time, a rate, a size)"
                )
    p = np.log(np.asarray(parent, dtype=float))
    c = np.log(np.asarray(candidate, dtype=float))
    return p - c if direction == "lower" else c - p


def _walsh_averages(d: np.ndarray) -> np.ndarray:
    """All (d_i + d_j) / 2 for i <= j, sorted."""
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2.0)


def _ci_rank(n: int, alpha: float) -> int:
    """0-based index k: the interval is [W_(k), W_(M-1-k)] of the sorted Walsh averages.

    k is the number of Walsh averages cut from each end: the largest count whose
    tail probability under the signed-rank null stays within alpha.
    """
    if n > _EXACT_MAX_PAIRS:
        total = n * (n + 1) / 2
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        z = NormalDist().inv_cdf(1 - alpha)
        return max(0, math.floor(total / 2 - z * sd))
    # Exact null distribution of T+ (sum of ranks with a + sign): each rank is in
    # or out with probability 1/2, so build it by convolution.
    probs = np.zeros(n * (n + 1) // 2 + 1)
    probs[0] = 1.0
    for rank in range(1, n + 1):
        shifted = np.zeros_like(probs)
        shifted[rank:] = probs[:-rank]
        probs = (probs + shifted) / 2.0
    cdf = np.cumsum(probs)
    # With c = the largest t where P(T+ <= t) <= alpha, the interval from the
    # (c+1)-th smallest to the (c+1)-th largest Walsh average covers with
    # probability >= 1 - 2*alpha. If even c = 0 is too likely (few pairs), the
    # widest interval, min..max, is the best available.
    within = np.nonzero(cdf <= alpha + 1e-12)[0]
    return int(within[-1]) if len(within) else 0


def _one_sided_p_values(d: np.ndarray) -> tuple[float, float]:
    """(p for d > 0, p for d < 0); 1.0 each when every pair is an exact tie.

    Zero ratios carry no sign and are dropped (Wilcoxon's own treatment). Up to
    50 pairs the p-value comes from the exact null distribution, which also
    serves tied magnitudes well and never goes below 1/2**n; scipy's "auto"
    would run a permutation test on ties instead (seconds at 12 pairs, and
    randomised above ~13, so not reproducible). Beyond 50, the normal
    approximation.
    """
    nonzero = d[d != 0.0]
    if len(nonzero) == 0:
        return 1.0, 1.0
    exact = len(nonzero) <= 50
    with warnings.catch_warnings():
        # scipy warns about ties under the exact method and tiny samples
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        better = _wilcoxon_p(nonzero, "greater", exact)
        worse = _wilcoxon_p(nonzero, "less", exact)
    return _finite_or_one(better), _finite_or_one(worse)


def wilcoxon(*args: Any, **kwargs: Any) -> Any:
    """SciPy's `scipy.stats.wilcoxon`, imported at the first test: the TUI reads decision
    records through this module's types, and SciPy would add ~70 MB and seconds to it."""
    from scipy.stats import wilcoxon as scipy_wilcoxon

    return scipy_wilcoxon(*args, **kwargs)


def _wilcoxon_p(d: np.ndarray, alternative: str, exact: bool) -> float:
    if exact:
        return float(wilcoxon(d, alternative=alternative, method="exact").pvalue)
    try:
        return float(wilcoxon(d, alternative=alternative, method="asymptotic").pvalue)
    except ValueError:  # SciPy before 1.13 called it "approx"
        return float(wilcoxon(d, alternative=alternative, method="approx").pvalue)


def _finite_or_one(p: float) -> float:
    return p if math.isfinite(p) else 1.0


def _to_effect(log_gain: float, direction: Direction) -> float:
    if direction == "lower":
        return 1.0 - math.exp(-log_gain)
    return math.exp(log_gain) - 1.0


def _percent(value: float) -> str:
    return f"{value * 100:.1f}"


def _describe(decision: MetricDecision, level: float) -> str:
    """E.g. 'time_ms 41.2% better (90% CI 39.0..43.1%, 6 pairs)'."""
    size = abs(decision.effect) if decision.verdict is Verdict.BETTER else -decision.effect
    return (
        f"{decision.metric} {_percent(size)}% {decision.verdict} "
        f"({level * 100:.0f}% CI {_percent(decision.ci_low)}..{_percent(decision.ci_high)}%, "
        f"{decision.pairs} pairs)"
    )


def _describe_tie(decision: MetricDecision, min_effect: float, alpha: float) -> str:
    """E.g. 'time_ms tie (+0.4%, p=0.41, 6 pairs)'."""
    why = ""
    if decision.p_value < alpha:  # significant, yet too small to matter
        why = f", below the {_percent(min_effect)}% minimum"
    return (
        f"{decision.metric} tie ({decision.effect * 100:+.1f}%, p={decision.p_value:.2g}"
        f"{why}, {decision.pairs} pairs)"
    )
