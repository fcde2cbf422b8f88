"""The keep rule v3 on the holes issue 15 found, with the inputs it gives."""

from __future__ import annotations

import re

import numpy as np
import pytest

from perfsup.config import MetricSpec
from perfsup.metrics.keep_rule import confirm, judge_look
from perfsup.metrics.scales import metric_gains, resolve_scale
from perfsup.metrics.sequential import RULE_NAME, Plan, default_looks

PLAN = Plan(default_looks(20, 40), 0.05, base_pairs=20)
THRESHOLDS = {"time": 0.02, "mem": 0.02, "allocs": 0.02}


def spec(name: str, unit: str = "", **extra: object) -> MetricSpec:
    return MetricSpec(name=name, unit=unit, **extra)  # type: ignore[arg-type]


def home(center: float, n: int, rng: np.random.Generator) -> list[float]:
    """Home-machine samples: 2% lognormal jitter, 15% of runs 4% slower."""
    slow = np.where(rng.random(n) < 0.15, 1.04, 1.0)
    return list(center * rng.lognormal(0.0, 0.02, n) * slow)


def run_pass(
    make: dict[str, tuple[float, float]],
    specs: list[MetricSpec],
    rng: np.random.Generator,
    lexicographic: bool = False,
    tolerance: float = 0.03,
) -> tuple[bool, str, list[str]]:
    """One sequential pass over pairs made from (parent, candidate) centres per metric."""
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in make}
    for n in range(1, PLAN.max_pairs + 1):
        for name, (parent, candidate) in make.items():
            samples[name][0].extend(home(parent, 1, rng))
            samples[name][1].extend(home(candidate, 1, rng))
        if n in PLAN.looks:
            look = judge_look(
                samples,
                specs,
                THRESHOLDS,
                PLAN,
                final=n == PLAN.max_pairs,
                tolerance=tolerance,
                lexicographic=lexicographic,
            )
            if look.stop:
                d = look.decision
                return d.keep, d.reason, [m.verdict for m in d.per_metric]
    raise AssertionError("the last look must stop")


def test_time_5_percent_better_memory_30_percent_worse_is_never_kept() -> None:
    # v2 kept this 99% of the time: a regression in a secondary metric was ignored
    rng = np.random.default_rng(1)
    specs = [spec("time"), spec("mem", "MiB")]
    outcomes = [run_pass({"time": (100, 95), "mem": (100, 130)}, specs, rng) for _ in range(40)]
    assert not any(keep for keep, _, _ in outcomes)
    decided = [(reason, verdicts) for keep, reason, verdicts in outcomes if verdicts[0] == "better"]
    assert decided  # the primary did win, and the guard blocked it
    for reason, verdicts in decided:
        assert verdicts == ["better", "worse"]
        assert "guard mem" in reason and "beyond its 3.0% tolerance" in reason


def test_a_guard_within_its_tolerance_does_not_block() -> None:
    rng = np.random.default_rng(2)
    specs = [spec("time"), spec("mem", "MiB", tolerance=0.05)]
    kept = [run_pass({"time": (100, 90), "mem": (100, 101)}, specs, rng)[0] for _ in range(20)]
    assert sum(kept) >= 18


def test_a_tie_on_time_never_keeps_through_memory() -> None:
    # v2 kept "time 2% slower, memory 10% better" 34% of the time
    rng = np.random.default_rng(3)
    specs = [spec("time"), spec("mem", "MiB")]
    outcomes = [run_pass({"time": (100, 102), "mem": (100, 90)}, specs, rng) for _ in range(40)]
    assert not any(keep for keep, _, _ in outcomes)
    # lexicographic, with a 1% tolerance on time: 2% slower is not shown "not worse"
    time_strict = [spec("time", tolerance=0.01), spec("mem", "MiB")]
    strict = [
        run_pass({"time": (100, 102), "mem": (100, 90)}, time_strict, rng, lexicographic=True)
        for _ in range(20)
    ]
    assert not any(keep for keep, _, _ in strict)


def test_lexicographic_lets_memory_decide_when_time_is_shown_not_worse() -> None:
    rng = np.random.default_rng(4)
    specs = [spec("time"), spec("mem", "MiB")]
    outcomes = [
        run_pass({"time": (100, 100), "mem": (100, 80)}, specs, rng, lexicographic=True)
        for _ in range(10)
    ]
    kept = [o for o in outcomes if o[0]]
    assert len(kept) >= 6
    assert all(verdicts[:2] == ["tie", "better"] for _, _, verdicts in kept)
    # the others stopped while time's interval was still too wide to show "not worse"
    assert all("not shown not worse" in reason for keep, reason, _ in outcomes if not keep)


def test_allocs_1_to_0_is_a_clear_gain_not_a_crash() -> None:
    # The most common Go win: v2 raised on the log of 0 and ended the node `crashed`
    allocs = spec("allocs", "allocs/op")
    assert resolve_scale(allocs) == "diff"
    samples = {"allocs": ([1.0] * 8, [0.0] * 8)}
    look = judge_look(samples, [allocs], THRESHOLDS, PLAN)
    assert look.stop and look.decision.keep
    assert look.decision.per_metric[0].effect == pytest.approx(1.0)  # 100% fewer
    # 0 -> 0 is no change, and a zero-valued guard is fine too
    same = judge_look({"allocs": ([0.0] * 40, [0.0] * 40)}, [allocs], THRESHOLDS, PLAN, True)
    assert same.stop and not same.decision.keep


def test_a_zero_on_the_log_scale_is_a_clear_error_naming_the_fix() -> None:
    with pytest.raises(ValueError, match=r'candidate sample 2 is 0\.0.*scale = "diff"'):
        metric_gains(spec("time", scale="log"), [1.0, 1.0, 1.0], [1.0, 1.0, 0.0])


def test_worse_label_is_true_to_the_spent_alpha() -> None:
    # v2 labelled such a no-op "8.0% worse (p=0.024 < 0.00714)": its interval
    # was below zero, but p was above the per-look level.
    gains = np.array([0.001, 0.002, -0.03, -0.04, -0.05, -0.06, -0.07, -0.08])
    parent = [100.0] * 8
    candidate = list(100.0 * np.exp(-gains))
    look = judge_look({"time": (parent, candidate)}, [spec("time")], THRESHOLDS, PLAN)
    m = look.decision.per_metric[0]
    assert m.ci_high < 0 and m.p_value > PLAN.levels[0]
    assert m.verdict != "worse"
    # at any stop, every "p=X < Y" the reason prints is true
    final = judge_look({"time": (parent, candidate)}, [spec("time")], THRESHOLDS, PLAN, True)
    for p, level in re.findall(r"p=([0-9.e-]+) < ([0-9.e-]+)", final.decision.reason):
        assert float(p) < float(level)


def test_a_winner_is_kept_only_when_both_passes_pooled_reach_the_threshold() -> None:
    time = spec("time")
    parent = [100.0] * 8
    first = judge_look(
        {"time": (parent, [90.0 + i * 0.1 for i in range(8)])}, [time], THRESHOLDS, PLAN
    )
    strong = judge_look({"time": (parent, [91.0 + i * 0.1 for i in range(8)])}, [time], {}, PLAN)
    weak = judge_look({"time": (parent, [99.0 + i * 0.01 for i in range(8)])}, [time], {}, PLAN)
    assert first.decision.keep and strong.decision.keep and weak.decision.keep
    kept = confirm(first.decision, strong.decision, [time], {"time": 0.02})
    assert kept.keep and kept.reason.startswith("re-verified: ")
    assert kept.per_metric[0].effect == strong.decision.per_metric[0].effect  # the fresh one
    assert kept.per_metric[0].threshold == 0.02 and kept.rule == RULE_NAME
    # fresh pairs find only ~1%: pooled with the first pass's ~10% it is 5.5% -> kept;
    # with a 6% threshold it is not
    assert confirm(first.decision, weak.decision, [time], {"time": 0.02}).keep
    refused = confirm(first.decision, weak.decision, [time], {"time": 0.06})
    assert not refused.keep and "below the 6.0% threshold" in refused.reason


def test_a_wide_early_estimate_below_zero_keeps_measuring_at_the_2_percent_threshold() -> None:
    # On a real library v2 raised the threshold to 6-13% after a noisy A/A and
    # stopped a verified ~10% speed-up for futility at 6 pairs, -27% [-44, +7].
    # v3 keeps min_effect as the threshold: an interval reaching above it is
    # not futile, and p above the spent level is not "worse" either.
    gains = np.array([-0.8, -0.6, -0.45, -0.3, -0.15, 0.02, 0.1, 0.25])  # -27% [-69, +5]
    parent = [100.0] * 8
    candidate = list(100.0 * np.exp(-gains))
    look = judge_look({"time": (parent, candidate)}, [spec("time")], THRESHOLDS, PLAN)
    m = look.decision.per_metric[0]
    assert m.effect < -0.2 and m.ci_high > 0.02
    assert not look.stop and m.verdict == "open"
