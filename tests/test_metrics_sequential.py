"""The sequential rule and the A/A calibration on seeded, benchmark-like samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfsup.config import MetricSpec
from perfsup.metrics.calibration import calibrate
from perfsup.metrics.sequential import (
    BETTER,
    TIE,
    WORSE,
    Plan,
    default_looks,
    judge_look,
    run_sequential,
    threshold_log,
)

PLAN = Plan(default_looks(30), 0.05)


def test_default_looks_and_alpha_spending() -> None:
    assert default_looks(30) == (6, 10, 14, 18, 22, 26, 30)
    assert default_looks(20) == (6, 10, 14, 20)
    assert default_looks(5) == (5,)
    assert PLAN.look_alpha == pytest.approx(0.05 / 7)
    with pytest.raises(ValueError, match="increasing"):
        Plan((10, 6), 0.05)


def test_aa_rows_are_kept_at_most_alpha_and_stop_early() -> None:
    rng = np.random.default_rng(5)
    gains = rng.normal(0.0, 0.03, (3000, 30))
    result = run_sequential(gains, threshold_log(0.0, "lower"), PLAN)
    assert (result.codes == BETTER).mean() <= 0.05
    # with a 2% threshold most no-ops stop early as futile
    result = run_sequential(gains, threshold_log(0.02, "lower"), PLAN)
    assert (result.codes == BETTER).mean() <= 0.01
    assert result.pairs.mean() < 15


def test_clear_win_and_clear_loss_stop_at_the_first_look_that_can_decide() -> None:
    # With 7 looks each may spend 0.05/7 = 0.0071; 6 pairs cannot go below
    # p = 1/64, so at 6 pairs a win must wait; a loss whose whole interval is
    # below zero stops at once.
    rng = np.random.default_rng(6)
    win = run_sequential(rng.normal(0.2, 0.01, (1, 30)), threshold_log(0.02, "lower"), PLAN)
    loss = run_sequential(rng.normal(-0.2, 0.01, (1, 30)), threshold_log(0.02, "lower"), PLAN)
    assert (win.codes[0], win.pairs[0]) == (BETTER, 10)
    assert (loss.codes[0], loss.pairs[0]) == (WORSE, 6)
    quick = Plan((6, 12), 0.05)  # two looks: 0.025 each, and 1/64 is below it
    assert run_sequential(rng.normal(0.2, 0.01, (1, 12)), 0.02, quick).pairs[0] == 6


def test_significant_gain_below_threshold_is_a_tie() -> None:
    rng = np.random.default_rng(7)
    small = run_sequential(rng.normal(0.01, 0.002, (1, 30)), threshold_log(0.05, "lower"), PLAN)
    assert small.codes[0] == TIE


def spec(name: str, direction: str = "lower") -> MetricSpec:
    return MetricSpec(name=name, direction=direction)  # type: ignore[arg-type]


def test_priority_order_regression_on_first_metric_is_never_kept() -> None:
    parent = [100.0] * 6
    samples = {
        "time": (parent, [p * 1.10 + i * 0.01 for i, p in enumerate(parent)]),  # 10% slower
        "rss": (parent, [p * 0.50 + i * 0.01 for i, p in enumerate(parent)]),  # 50% smaller
    }
    look = judge_look(samples, [spec("time"), spec("rss")], {}, Plan((6,), 0.05), final=True)
    assert look.stop and not look.decision.keep
    assert look.decision.per_metric[0].verdict == "worse"
    assert look.decision.reason.startswith("time ")


def test_tie_on_first_metric_lets_the_next_decide() -> None:
    parent = [100.0 + i for i in range(6)]
    same = [p * (1 + (0.001 if i % 2 else -0.001)) for i, p in enumerate(parent)]
    samples = {"time": (parent, same), "rss": (parent, [p * 0.5 for p in parent])}
    thresholds = {"time": 0.02, "rss": 0.02}
    look = judge_look(
        samples, [spec("time"), spec("rss")], thresholds, Plan((6,), 0.05), final=True
    )
    assert look.decision.keep
    assert [m.verdict for m in look.decision.per_metric] == ["tie", "better"]
    assert look.decision.per_metric[1].threshold == 0.02
    assert "time tie" in look.decision.reason and "rss 50.0% better" in look.decision.reason


def test_open_at_an_early_look_keeps_measuring() -> None:
    gains = [0.06, -0.02, 0.05, 0.01, -0.01, 0.04]  # +2% on average, far from sure
    parent = [100.0] * 6
    candidate = [100.0 * math.exp(-g) for g in gains]
    look = judge_look(
        {"time": (parent, candidate)}, [spec("time")], {"time": 0.02}, PLAN, final=False
    )
    assert not look.stop and look.decision.reason == "still measuring"


def test_calibration_sets_the_threshold_from_the_noise() -> None:
    rng = np.random.default_rng(9)
    quiet = calibrate("t", rng.normal(0, 0.005, 10), "lower", 0.02, 0.05, 30)
    assert not quiet.too_noisy and quiet.threshold == 0.02
    assert quiet.noise_floor < 0.02 and quiet.ci_low < 0 < quiet.ci_high
    noisy = calibrate("t", rng.normal(0, 0.3, 10), "lower", 0.02, 0.05, 30)
    assert noisy.too_noisy and noisy.threshold == noisy.noise_floor > 0.02
    assert math.isfinite(noisy.effect)
