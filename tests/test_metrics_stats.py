"""The paired Wilcoxon log-ratio rule on realistic, seeded benchmark samples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from perfsup.config import MetricSpec
from perfsup.metrics.stats import RULE_NAME, decide, decide_metric

ALPHA = 0.05
MIN_EFFECT = 0.02


def noisy(center: float, n: int, seed: int, sigma: float = 0.02) -> list[float]:
    """Benchmark-like samples: lognormal jitter around `center`."""
    rng = np.random.default_rng(seed)
    return list(center * rng.lognormal(0.0, sigma, n))


def spec(name: str, direction: str = "lower") -> MetricSpec:
    return MetricSpec(name=name, direction=direction)  # type: ignore[arg-type]


def test_identical_samples_tie() -> None:
    parent = noisy(100, 6, seed=1)
    result = decide_metric("time_ms", parent, list(parent), "lower", MIN_EFFECT, ALPHA)
    assert result.verdict == "tie"
    assert result.effect == 0.0 and result.ci_low == 0.0 and result.ci_high == 0.0
    assert result.p_value == 1.0 and result.pairs == 6 and result.rule == RULE_NAME
    decision = decide({"time_ms": (parent, parent)}, [spec("time_ms")], MIN_EFFECT, ALPHA)
    assert not decision.keep
    assert decision.reason.startswith("no significant change: time_ms tie")


def test_clear_20_percent_gain_over_6_pairs_is_kept() -> None:
    parent = noisy(100, 6, seed=2)
    candidate = [p * 0.8 * j for p, j in zip(parent, noisy(1, 6, seed=3), strict=True)]
    decision = decide({"time_ms": (parent, candidate)}, [spec("time_ms")], MIN_EFFECT, ALPHA)
    assert decision.keep
    metric = decision.per_metric[0]
    assert metric.verdict == "better"
    assert 0.15 < metric.effect < 0.25
    assert 0.0 < metric.ci_low <= metric.effect <= metric.ci_high
    assert metric.p_value == pytest.approx(1 / 64)  # exact: all 6 pairs better
    assert decision.reason.startswith("time_ms ")
    assert "% better (90% CI " in decision.reason and "6 pairs)" in decision.reason
    assert decision.rule == RULE_NAME


def test_10_percent_slowdown_is_not_kept() -> None:
    parent = noisy(50, 8, seed=4)
    candidate = [p * 1.1 * j for p, j in zip(parent, noisy(1, 8, seed=5), strict=True)]
    decision = decide({"time_ms": (parent, candidate)}, [spec("time_ms")], MIN_EFFECT, ALPHA)
    assert not decision.keep
    metric = decision.per_metric[0]
    assert metric.verdict == "worse"
    assert metric.effect == pytest.approx(-0.1, abs=0.03)
    assert metric.ci_high < 0
    assert "time_ms" in decision.reason and "worse" in decision.reason


def test_higher_is_better_direction() -> None:
    parent = noisy(1000, 10, seed=6)
    candidate = [p * 1.15 * j for p, j in zip(parent, noisy(1, 10, seed=7), strict=True)]
    up = decide_metric("ops_per_s", parent, candidate, "higher", MIN_EFFECT, ALPHA)
    assert up.verdict == "better"
    assert up.effect == pytest.approx(0.15, abs=0.03)  # exp(hl) - 1: 15% more throughput
    down = decide_metric("ops_per_s", candidate, parent, "higher", MIN_EFFECT, ALPHA)
    assert down.verdict == "worse"
    # the same samples read as lower-is-better are a regression
    assert decide_metric("t", parent, candidate, "lower", MIN_EFFECT, ALPHA).verdict == "worse"


def test_priority_order() -> None:
    same = noisy(100, 8, seed=8)
    faster = [v * 0.85 for v in same]
    slower = [v * 1.2 for v in same]
    specs = [spec("time_ms"), spec("rss_mb")]

    # a tie on the first metric lets the second decide
    tie_then_better = decide(
        {"time_ms": (same, same), "rss_mb": (same, faster)}, specs, MIN_EFFECT, ALPHA
    )
    assert tie_then_better.keep
    assert tie_then_better.reason.startswith("time_ms tie")
    assert "rss_mb 15.0% better" in tie_then_better.reason

    # a regression on a higher metric is never kept
    worse_then_better = decide(
        {"time_ms": (same, slower), "rss_mb": (same, faster)}, specs, MIN_EFFECT, ALPHA
    )
    assert not worse_then_better.keep
    assert [m.verdict for m in worse_then_better.per_metric] == ["worse", "better"]

    # the first metric decides: a lower-priority regression does not block a win
    better_then_worse = decide(
        {"time_ms": (same, faster), "rss_mb": (same, slower)}, specs, MIN_EFFECT, ALPHA
    )
    assert better_then_worse.keep
    assert [m.verdict for m in better_then_worse.per_metric] == ["better", "worse"]


def test_significant_but_below_min_effect_is_a_tie() -> None:
    parent = noisy(100, 12, seed=9, sigma=0.001)
    candidate = [v * 0.99 for v in parent]
    result = decide_metric("time_ms", parent, candidate, "lower", MIN_EFFECT, ALPHA)
    assert result.verdict == "tie" and result.p_value < ALPHA
    decision = decide({"time_ms": (parent, candidate)}, [spec("time_ms")], MIN_EFFECT, ALPHA)
    assert "below the 2.0% minimum" in decision.reason


def test_too_few_pairs_cannot_be_significant() -> None:
    parent = [100.0, 101.0, 99.0, 100.0]
    candidate = [50.0, 50.5, 49.5, 50.0]
    result = decide_metric("time_ms", parent, candidate, "lower", MIN_EFFECT, ALPHA)
    assert result.verdict == "tie"  # 4 pairs: the smallest one-sided p is 1/16
    assert result.effect == pytest.approx(0.5)


def test_interval_ranks_match_brute_force_signed_rank_distribution() -> None:
    d = np.array([0.05, -0.01, 0.12, 0.03, 0.08, 0.02, -0.02, 0.06])
    parent = [100.0] * len(d)
    candidate = list(100.0 * np.exp(-d))  # log(parent/candidate) == d
    result = decide_metric("t", parent, candidate, "lower", MIN_EFFECT, ALPHA)
    n = len(d)
    sums = [
        sum(rank for rank, sign in zip(range(1, n + 1), signs, strict=True) if sign)
        for signs in itertools.product([0, 1], repeat=n)
    ]
    # largest c with P(T+ <= c) <= alpha; the interval is W_(c+1) .. W_(M-c), 1-based
    c = max(t for t in range(len(sums)) if sum(s <= t for s in sums) / len(sums) <= ALPHA)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    assert result.ci_low == pytest.approx(1 - math.exp(-walsh[c]))
    assert result.ci_high == pytest.approx(1 - math.exp(-walsh[len(walsh) - 1 - c]))
    assert result.effect == pytest.approx(1 - math.exp(-float(np.median(walsh))))


def test_many_pairs_use_the_normal_approximation() -> None:
    parent = noisy(100, 150, seed=10, sigma=0.05)
    candidate = [
        p * 0.95 * j for p, j in zip(parent, noisy(1, 150, seed=11, sigma=0.05), strict=True)
    ]
    result = decide_metric("time_ms", parent, candidate, "lower", MIN_EFFECT, ALPHA)
    assert result.verdict == "better"
    assert result.ci_low < result.effect < result.ci_high
    assert result.ci_high - result.ci_low < 0.05


def test_outlier_pairs_do_not_flip_the_verdict() -> None:
    parent = noisy(100, 10, seed=12)
    candidate = [p * 0.8 for p in parent]
    candidate[3] = parent[3] * 3.0  # one run hit by a background job
    result = decide_metric("time_ms", parent, candidate, "lower", MIN_EFFECT, ALPHA)
    assert result.verdict == "better" and result.effect == pytest.approx(0.2, abs=0.02)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_non_positive_or_non_finite_values_are_a_clear_error(bad: float) -> None:
    with pytest.raises(ValueError, match=r"metric time_ms: candidate sample 2 .* positive"):
        decide_metric("time_ms", [1.0, 2.0, 3.0], [1.0, 2.0, bad], "lower", MIN_EFFECT, ALPHA)


def test_unpaired_or_empty_samples_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="3 parent samples but 2 candidate"):
        decide_metric("t", [1.0, 2.0, 3.0], [1.0, 2.0], "lower", MIN_EFFECT, ALPHA)
    with pytest.raises(ValueError, match="no samples"):
        decide_metric("t", [], [], "lower", MIN_EFFECT, ALPHA)


def test_decide_needs_samples_for_every_metric() -> None:
    with pytest.raises(ValueError, match=r"no samples for metric.*rss_mb"):
        decide({"time_ms": ([1.0], [1.0])}, [spec("time_ms"), spec("rss_mb")], 0.02, 0.05)
