"""Decision simulation: how often each keep/discard rule keeps the wrong thing.

Run: `python benchmarks/decision_sim.py [--rows N] [--seed S]`

Timing noise is simulated per benchmark process at three levels (quiet, home,
noisy): lognormal jitter, a right tail of outliers, bimodal runs (a process
lands in a slow mode), slow drift and a step change at a random moment, an
order effect inside a pair, and a per-build layout effect (the candidate's
build is a little faster or slower for reasons unrelated to the change).

For three true effects (A/A: none; a real 3% gain; a real 1% regression) and
three rules it prints how often the change is kept, with counts, and the
pairs used (one pair = one parent run + one candidate run):

- perfsup: the sequential rule of perfsup.metrics.sequential (A/A calibrated
  threshold, Bonferroni-spent looks, early stops) plus re-verification of a
  winner on fresh pairs; pairs counted include the re-verification;
- median-of-5: 5 parent runs then 5 candidate runs, kept when the candidate's
  median is more than 1% better;
- blocks-MW-20: 20 parent runs then 20 candidate runs, one-sided Mann-Whitney
  U at 0.05 (an unpaired test on sequential blocks).

Its last line is the summary
`decision_sim: aa_false_keep_max=X% detect3_home=Y% regress_keep_max=Z% mean_pairs_home=N`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perfsup.metrics.calibration import noise_floor_logs
from perfsup.metrics.sequential import (
    BETTER,
    Plan,
    default_looks,
    run_sequential,
    threshold_log,
)

MIN_EFFECT = 0.02  # perfsup's default [decision] min_effect
ALPHA = 0.05
MAX_PAIRS = 30  # perfsup's default bench.pairs: the most pairs of one pass
CALIBRATION_PAIRS = 10
FIXED_DESIGN_PAIRS = 20


@dataclass(frozen=True)
class Noise:
    """One noise level; every figure is relative (0.02 = 2%)."""

    name: str
    jitter: float  # lognormal sigma per run
    outlier_p: float  # chance a run is an outlier
    outlier_scale: float  # mean extra slowness of an outlier (exponential)
    bimodal_p: float  # chance a process lands in the slow mode
    bimodal_gap: float  # how much slower the slow mode is
    drift: float  # sd of the linear drift over 100 runs
    step: float  # sd of a step change at a random run
    order: float  # the second run of a pair is this much faster (warm caches)
    layout: float  # sd of a build's layout effect


LEVELS = (
    Noise("quiet", 0.005, 0.01, 0.05, 0.0, 0.0, 0.005, 0.005, 0.002, 0.002),
    Noise("home", 0.015, 0.03, 0.10, 0.05, 0.10, 0.03, 0.02, 0.005, 0.003),
    Noise("noisy", 0.04, 0.08, 0.30, 0.20, 0.30, 0.06, 0.06, 0.01, 0.006),
)
SCENARIOS = (("A/A", 1.0), ("gain 3%", 0.97), ("regress 1%", 1.01))


class Timeline:
    """Environment slowness of each run over time: drift plus one step change."""

    def __init__(self, rng: np.random.Generator, rows: int, runs: int, noise: Noise) -> None:
        t = np.arange(runs) / 100.0
        slope = rng.normal(0.0, noise.drift, (rows, 1))
        step_at = rng.integers(0, runs, (rows, 1))
        step = rng.normal(0.0, noise.step, (rows, 1))
        self.log = slope * t + np.where(np.arange(runs) >= step_at, step, 0.0)


def process_noise(rng: np.random.Generator, shape: tuple[int, ...], noise: Noise) -> np.ndarray:
    """Log slowness of independent benchmark processes."""
    log = rng.normal(0.0, noise.jitter, shape)
    outlier = rng.random(shape) < noise.outlier_p
    log += np.where(outlier, np.log1p(rng.exponential(noise.outlier_scale, shape)), 0.0)
    slow = rng.random(shape) < noise.bimodal_p
    return log + np.where(slow, math.log1p(noise.bimodal_gap), 0.0)


def paired_gains(
    rng: np.random.Generator, rows: int, pairs: int, noise: Noise, cand_log: np.ndarray, start: int
) -> np.ndarray:
    """Log gains log(parent/candidate) of `pairs` interleaved pairs in random order."""
    runs = start + 2 * pairs
    env = Timeline(rng, rows, runs, noise).log[:, start:]
    parent_first = rng.random((rows, pairs)) < 0.5
    first, second = env[:, 0::2], env[:, 1::2] - noise.order
    parent = np.where(parent_first, first, second) + process_noise(rng, (rows, pairs), noise)
    cand = np.where(parent_first, second, first) + process_noise(rng, (rows, pairs), noise)
    return parent - (cand + cand_log[:, None])


def perfsup_rule(
    rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Kept mask, pairs used and the share of too-noisy calibrations of perfsup's rule.

    Calibration + decision + re-verification; a too-noisy calibration goes on
    with the threshold raised to the noise floor (on_noise = "raise").
    """
    plan = Plan(default_looks(MAX_PAIRS), ALPHA)
    # A/A calibration: the parent against itself, no layout or real effect.
    aa = paired_gains(rng, rows, CALIBRATION_PAIRS, noise, np.zeros(rows), 0)
    floors = np.expm1(noise_floor_logs(aa, ALPHA, plan.max_pairs))
    thresholds = np.maximum(MIN_EFFECT, floors)
    thr_log = np.array([threshold_log(t, "lower") for t in thresholds])
    cand_log = math.log(true_ratio) + rng.normal(0.0, noise.layout, rows)
    start = 2 * CALIBRATION_PAIRS
    first = run_sequential(
        paired_gains(rng, rows, plan.max_pairs, noise, cand_log, start), thr_log, plan
    )
    again = run_sequential(
        paired_gains(rng, rows, plan.max_pairs, noise, cand_log, start + 2 * plan.max_pairs),
        thr_log,
        plan,
    )
    winners = first.codes == BETTER
    kept = winners & (again.codes == BETTER)
    guard = float((floors > MIN_EFFECT).mean())
    return kept, first.pairs + np.where(winners, again.pairs, 0), guard


def median_of_5(rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float) -> np.ndarray:
    env = Timeline(rng, rows, 10, noise).log
    cand_log = math.log(true_ratio) + rng.normal(0.0, noise.layout, rows)
    parent = env[:, :5] + process_noise(rng, (rows, 5), noise)
    cand = env[:, 5:] + process_noise(rng, (rows, 5), noise) + cand_log[:, None]
    return np.median(cand, axis=1) < np.median(parent, axis=1) + math.log(0.99)


def blocks_mw(rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float) -> np.ndarray:
    env = Timeline(rng, rows, 40, noise).log
    cand_log = math.log(true_ratio) + rng.normal(0.0, noise.layout, rows)
    parent = env[:, :20] + process_noise(rng, (rows, 20), noise)
    cand = env[:, 20:] + process_noise(rng, (rows, 20), noise) + cand_log[:, None]
    p = mannwhitneyu(cand, parent, alternative="less", axis=1).pvalue
    return np.asarray(p < 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="simulated decisions per cell")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = args.rows
    started = time.perf_counter()
    aa_max = regress_max = 0.0
    detect_home = mean_pairs_home = 0.0
    print(f"{rows} simulated decisions per cell; kept rate (kept/rows) and mean pairs used")
    print(f"{'level':<7}{'rule':<14}{'scenario':<12}{'kept':>8}{'count':>12}{'pairs':>8}")
    for noise in LEVELS:
        home_pairs: list[float] = []
        guards: list[float] = []
        for scenario, ratio in SCENARIOS:
            kept, pairs, guard = perfsup_rule(rng, rows, noise, ratio)
            results = [
                ("perfsup", kept, float(pairs.mean())),
                ("median-of-5", median_of_5(rng, rows, noise, ratio), 5.0),
                ("blocks-MW-20", blocks_mw(rng, rows, noise, ratio), 20.0),
            ]
            for rule, mask, mean_pairs in results:
                rate = float(mask.mean())
                count = f"{int(mask.sum())}/{rows}"
                print(
                    f"{noise.name:<7}{rule:<14}{scenario:<12}{rate * 100:7.2f}%{count:>12}"
                    f"{mean_pairs:8.1f}"
                )
            rate = float(kept.mean())
            if scenario == "A/A":
                aa_max = max(aa_max, rate)
            elif scenario.startswith("regress"):
                regress_max = max(regress_max, rate)
            elif noise.name == "home":
                detect_home = rate
            home_pairs.append(float(pairs.mean()))
            guards.append(guard)
        print(
            f"{noise.name:<7}noise guard: A/A calibration too noisy for the "
            f"{MIN_EFFECT:.0%} minimum in {sum(guards) / len(guards) * 100:.1f}% of runs"
        )
        if noise.name == "home":
            mean_pairs_home = sum(home_pairs) / len(home_pairs)
    elapsed = time.perf_counter() - started
    print(f"fixed design for comparison: {FIXED_DESIGN_PAIRS} pairs; elapsed {elapsed:.1f} s")
    print(
        f"decision_sim: aa_false_keep_max={aa_max * 100:.2f}% "
        f"detect3_home={detect_home * 100:.1f}% "
        f"regress_keep_max={regress_max * 100:.2f}% mean_pairs_home={mean_pairs_home:.1f}"
    )


if __name__ == "__main__":
    main()
