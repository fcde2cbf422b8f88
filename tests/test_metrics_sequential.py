"""The sequential rule (v3) and the A/A calibration on seeded, benchmark-like samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from perfsup.config import MetricSpec
from perfsup.metrics.calibration import calibrate
from perfsup.metrics.keep_rule import judge_look
from perfsup.metrics.sequential import (
    BETTER,
    OPEN,
    TIE,
    WORSE,
    Plan,
    default_looks,
    look_codes,
    pooled_gain,
    run_sequential,
    threshold_log,
)
from perfsup.metrics.spending import nominal_levels

PLAN = Plan(default_looks(20, 40), 0.05, base_pairs=20)


def test_default_looks_and_alpha_spending() -> None:
    assert default_looks(20, 40) == (8, 12, 16, 20, 25, 30, 35, 40)
    assert default_looks(30) == (8, 12, 16, 20, 24, 28, 30)
    assert default_looks(5) == (5,)
    with pytest.raises(ValueError, match="increasing"):
        Plan((10, 6), 0.05)
    # every look can keep: its level is above 1 / 2**pairs, the smallest p of its pairs
    assert all(0.5**n < level for n, level in zip(PLAN.looks, PLAN.levels, strict=True))
    # more than Bonferroni's 0.05 / 8 at every look, never more than alpha overall
    assert min(PLAN.levels) > 0.05 / 8 and max(PLAN.levels) < 0.05


def test_spending_boundaries_match_the_published_lan_demets_values() -> None:
    # Jennison and Turnbull (2000), table 7.x / gsDesign sfLDOF and sfLDPocock:
    # five equally spaced looks, one-sided alpha 0.025
    obf = [float(norm.isf(p)) for p in nominal_levels((1, 2, 3, 4, 5), 0.025, "obrien-fleming")]
    assert obf == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=0.003)
    pocock = [float(norm.isf(p)) for p in nominal_levels((1, 2, 3, 4, 5), 0.025, "pocock")]
    assert pocock == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.389], abs=0.003)


def test_aa_rows_are_kept_at_most_alpha_and_stop_early() -> None:
    rng = np.random.default_rng(5)
    gains = rng.normal(0.0, 0.03, (3000, 40))
    result = run_sequential(gains, threshold_log(0.0, "lower"), PLAN)
    assert (result.codes == BETTER).mean() <= 0.05
    # with a 2% threshold most no-ops stop early as futile; one pass keeps ~1%
    thr = threshold_log(0.02, "lower")
    first = run_sequential(gains, thr, PLAN)
    assert (first.codes == BETTER).mean() <= 0.02
    assert first.pairs.mean() < 20
    # re-verified on fresh pairs (significant on its own, pooled estimate at the
    # threshold), almost none is kept
    again = run_sequential(rng.normal(0.0, 0.03, (3000, 40)), 0.0, PLAN)
    pooled = pooled_gain(first.hl, first.pairs, again.hl, again.pairs)
    kept = (first.codes == BETTER) & (again.codes == BETTER) & (pooled >= thr)
    assert kept.mean() <= 0.002


def test_clear_win_and_clear_loss_stop_at_the_first_look() -> None:
    # The first look (8 pairs) may spend 0.0148 (Pocock-type spending) and 8
    # pairs reach p = 1/256: a clear win keeps there, a clear loss is worse there.
    rng = np.random.default_rng(6)
    win = run_sequential(rng.normal(0.2, 0.01, (1, 40)), threshold_log(0.02, "lower"), PLAN)
    loss = run_sequential(rng.normal(-0.2, 0.01, (1, 40)), threshold_log(0.02, "lower"), PLAN)
    assert (win.codes[0], win.pairs[0]) == (BETTER, 8)
    assert (loss.codes[0], loss.pairs[0]) == (WORSE, 8)


def test_significant_gain_below_threshold_is_a_tie() -> None:
    rng = np.random.default_rng(7)
    small = run_sequential(rng.normal(0.01, 0.002, (1, 40)), threshold_log(0.05, "lower"), PLAN)
    assert small.codes[0] == TIE


def test_an_estimate_near_the_threshold_extends_past_the_budget_one_far_below_stops() -> None:
    thr = threshold_log(0.02, "lower")
    line = np.linspace(-0.05, 0.05, 20)
    # symmetric pairs first, so that every prefix is centred as well
    spread = np.resize(np.column_stack([line[:10], line[::-1][:10]]).ravel(), (1, 40))
    near = 0.015 + spread  # +1.5%, unsure at 20 pairs
    far = 0.002 + spread  # +0.2%: stops at the budget
    codes, _ = look_codes(near[:, :20], thr, PLAN)
    assert codes[0] == OPEN
    codes, _ = look_codes(far[:, :20], thr, PLAN)
    assert codes[0] == TIE
    assert run_sequential(near, thr, PLAN).pairs[0] > 20


def spec(name: str, direction: str = "lower", unit: str = "") -> MetricSpec:
    return MetricSpec(name=name, direction=direction, unit=unit)  # type: ignore[arg-type]


def test_open_at_an_early_look_keeps_measuring() -> None:
    gains = [0.06, -0.02, 0.05, 0.01, -0.01, 0.04, 0.0, 0.03]  # +2% on average, far from sure
    parent = [100.0] * 8
    candidate = [100.0 * math.exp(-g) for g in gains]
    look = judge_look({"time": (parent, candidate)}, [spec("time")], {"time": 0.02}, PLAN)
    assert not look.stop and look.decision.reason == "still measuring"


def test_calibration_reports_the_noise_and_the_pairs_it_needs() -> None:
    rng = np.random.default_rng(9)
    quiet = calibrate("t", rng.normal(0, 0.005, 10), "lower", 0.02, 0.05, 20)
    assert not quiet.too_noisy and quiet.threshold == 0.02 and quiet.pairs_needed == 20
    assert quiet.noise_floor < 0.02 and quiet.ci_low < 0 < quiet.ci_high
    noisy = calibrate("t", rng.normal(0, 0.1, 10), "lower", 0.02, 0.05, 20)
    assert noisy.too_noisy and noisy.threshold == noisy.noise_floor > 0.02
    # interval widths shrink like 1/sqrt(pairs): the pairs that bring the floor to 2%
    assert noisy.pairs_needed == math.ceil(20 * (noisy.noise_floor / 0.02) ** 2)
    assert math.isfinite(noisy.effect)
