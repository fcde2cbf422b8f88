"""Decision simulation: how often each keep/discard rule keeps the wrong thing.

Run: `python benchmarks/decision_sim.py [--n N] [--seed S]`

Timing noise is simulated per benchmark process for six machines, whose
parameters are printed first: lognormal jitter, a right tail of outliers,
bimodal runs (a process lands in a slow mode), an AR(1) drift, a slow trend
over the decision, a step change at a random moment in some decisions, an
order effect inside a pair, and a per-build code-layout offset (two builds of
the same code are not equally fast; the candidate's build differs from the
parent's for reasons unrelated to the change). "home", "home+layout" and
"home-heavy-tails" are the harsher home machine of issue 15; "home-mild" is
the milder home machine this simulation used before.

For three true effects (A/A: none; a real 3% gain; a real 1% regression) and
three rules it prints how often the change is kept, with counts, and the
pairs used (one pair = one parent run + one candidate run):

- perfsup: the project's own decision code (`perfsup.metrics.sequential`,
  `perfsup.metrics.calibration`) run the way the engine runs it, calibration
  and re-verification included; pairs counted include every pass;
- median-of-5: 5 parent runs then 5 candidate runs, kept when the candidate's
  median is more than 1% better;
- blocks-MW-20: 20 parent runs then 20 candidate runs, one-sided Mann-Whitney
  U at 0.05 (an unpaired test on sequential blocks).

Its last line is the summary `decision_sim: aa_false_keep_max=X%
detect3_home=Y% detect3_layout=W% regress_keep_max=Z% mean_pairs_home=N`
(detect3 and mean pairs of the harsh "home" machine; the maxima over all).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perfsup.metrics.calibration import noise_floor_logs
from perfsup.metrics.sequential import (
    BETTER,
    Plan,
    default_looks,
    pooled_gain,
    run_sequential,
    threshold_log,
)

MIN_EFFECT = 0.02  # perfsup's default [decision] min_effect
ALPHA = 0.05
BASE_PAIRS = 20  # perfsup's default bench.pairs: the usual budget of one pass
MAX_PAIRS = 40  # perfsup's default decision.max_pairs: the most, extension included
NEAR = 0.5  # perfsup's default decision.near
SPENDING = "pocock"  # perfsup's default decision.spending
CALIBRATION_PAIRS = 10
FIXED_DESIGN_PAIRS = 20
RUNS = 2 * (CALIBRATION_PAIRS + 2 * MAX_PAIRS)  # room for every pass of one decision


@dataclass(frozen=True)
class Noise:
    """One machine; every figure is relative (0.02 = 2%)."""

    name: str
    jitter: float  # lognormal sigma per run
    outlier_p: float  # chance a run is an outlier
    outlier_scale: float  # mean extra slowness of an outlier (exponential)
    bimodal_p: float  # chance a run lands in the slow mode
    bimodal_gap: float  # how much slower the slow mode is
    ar_sd: float  # stationary sd of an AR(1) drift
    ar_phi: float  # its correlation from one run to the next
    trend: float  # size of a slow linear trend over the decision (random sign)
    step_p: float  # share of decisions with a step change at a random run
    step: float  # size of that step (random sign)
    order: float  # the second run of a pair is this much faster (warm caches)
    layout: float  # sd of one build's code-layout offset


LEVELS = (
    Noise("quiet", 0.005, 0.01, 0.05, 0.0, 0.0, 0.0, 0.0, 0.005, 1.0, 0.005, 0.002, 0.002),
    Noise("home-mild", 0.015, 0.03, 0.10, 0.05, 0.10, 0.0, 0.0, 0.03, 1.0, 0.02, 0.005, 0.003),
    Noise("noisy", 0.04, 0.08, 0.30, 0.20, 0.30, 0.0, 0.0, 0.06, 1.0, 0.06, 0.01, 0.006),
    Noise("home", 0.02, 0.05, 0.15, 0.15, 0.04, 0.01, 0.95, 0.01, 0.2, 0.03, 0.005, 0.0),
    Noise("home+layout", 0.02, 0.05, 0.15, 0.15, 0.04, 0.01, 0.95, 0.01, 0.2, 0.03, 0.005, 0.01),
    Noise("home-heavy-tails", 0.02, 0.15, 0.15, 0.15, 0.04, 0.01, 0.95, 0.01, 0.2, 0.03, 0.005, 0),
)
SCENARIOS = (("A/A", 1.0), ("gain 3%", 0.97), ("regress 1%", 1.01))


def timeline(rng: np.random.Generator, rows: int, noise: Noise) -> np.ndarray:
    """Log slowness of the machine at every run of a decision (rows x RUNS)."""
    t = np.arange(RUNS) / RUNS
    sign = rng.choice((-1.0, 1.0), (rows, 1))
    log = sign * noise.trend * t
    stepped = rng.random((rows, 1)) < noise.step_p
    step_at = rng.integers(0, RUNS, (rows, 1))
    step = rng.choice((-1.0, 1.0), (rows, 1)) * noise.step
    log = log + np.where(stepped & (np.arange(RUNS) >= step_at), step, 0.0)
    if noise.ar_sd > 0:
        innovations = rng.normal(0.0, noise.ar_sd * math.sqrt(1 - noise.ar_phi**2), (rows, RUNS))
        ar = np.empty((rows, RUNS))
        ar[:, 0] = rng.normal(0.0, noise.ar_sd, rows)
        for run in range(1, RUNS):
            ar[:, run] = noise.ar_phi * ar[:, run - 1] + innovations[:, run]
        log = log + ar
    return log


def process_noise(rng: np.random.Generator, shape: tuple[int, ...], noise: Noise) -> np.ndarray:
    """Log slowness of independent benchmark processes."""
    log = rng.normal(0.0, noise.jitter, shape)
    outlier = rng.random(shape) < noise.outlier_p
    log += np.where(outlier, np.log1p(rng.exponential(noise.outlier_scale, shape)), 0.0)
    slow = rng.random(shape) < noise.bimodal_p
    return log + np.where(slow, math.log1p(noise.bimodal_gap), 0.0)


@dataclass
class Machine:
    """One decision's machine: its timeline and a cursor of runs used so far."""

    rng: np.random.Generator
    noise: Noise
    env: np.ndarray
    cursor: int = 0

    def pairs(self, parent_log: np.ndarray, cand_log: np.ndarray, pairs: int) -> np.ndarray:
        """Log gains log(parent/candidate) of `pairs` interleaved pairs in random order.

        `parent_log` and `cand_log` are each side's fixed log offset (build
        layout plus the true effect): one per row, or one per row and pair.
        """
        rows = self.env.shape[0]
        env = self.env[:, self.cursor : self.cursor + 2 * pairs]
        self.cursor += 2 * pairs
        parent_first = self.rng.random((rows, pairs)) < 0.5
        first, second = env[:, 0::2], env[:, 1::2] - self.noise.order
        shape = (rows, pairs)
        parent = np.where(parent_first, first, second) + process_noise(self.rng, shape, self.noise)
        cand = np.where(parent_first, second, first) + process_noise(self.rng, shape, self.noise)
        return (parent + _per_pair(parent_log)) - (cand + _per_pair(cand_log))


def _per_pair(offset: np.ndarray) -> np.ndarray:
    return offset[:, None] if offset.ndim == 1 else offset


def perfsup_rule(
    rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Kept mask, pairs used and the share of too-noisy calibrations of perfsup's rule.

    As the engine does it (rule v3): an A/A calibration that reports noise
    but leaves the threshold at min_effect; a sequential first pass with
    alpha spending and extension near the threshold; re-verification of a
    winner on fresh pairs. For a compiled target (a machine with a layout
    effect) every pair runs on fresh builds of both sides (bench.layout =
    "rebuild"), so build-to-build variance is inside the paired noise.
    """
    machine = Machine(rng, noise, timeline(rng, rows, noise))
    plan = Plan(
        default_looks(BASE_PAIRS, MAX_PAIRS),
        ALPHA,
        base_pairs=BASE_PAIRS,
        near=NEAR,
        spending=SPENDING,
    )
    effect = math.log(true_ratio)

    def builds(pairs: int) -> np.ndarray:
        if noise.layout == 0:
            return np.zeros(rows)
        return rng.normal(0.0, noise.layout, (rows, pairs))

    aa = machine.pairs(builds(CALIBRATION_PAIRS), builds(CALIBRATION_PAIRS), CALIBRATION_PAIRS)
    floors = np.expm1(noise_floor_logs(aa, ALPHA, plan.budget))
    thr_log = threshold_log(MIN_EFFECT, "lower")
    n = plan.max_pairs
    first = run_sequential(machine.pairs(builds(n), builds(n) + effect, n), thr_log, plan)
    winners = first.codes == BETTER
    pairs = first.pairs.copy()
    # re-verification: fresh pairs (fresh builds) must find the gain on their
    # own, and the estimate pooled over both passes must reach the threshold
    again = run_sequential(machine.pairs(builds(n), builds(n) + effect, n), 0.0, plan)
    pooled = pooled_gain(first.hl, first.pairs, again.hl, again.pairs)
    kept = winners & (again.codes == BETTER) & (pooled >= thr_log)
    pairs += np.where(winners, again.pairs, 0)
    guard = float((floors > MIN_EFFECT).mean())
    return kept, pairs, guard


def _blocks(
    rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """n parent runs then n candidate runs, each side one build."""
    env = timeline(rng, rows, noise)[:, : 2 * n]
    parent_build = rng.normal(0.0, noise.layout, (rows, 1))
    cand_build = rng.normal(0.0, noise.layout, (rows, 1)) + math.log(true_ratio)
    parent = env[:, :n] + process_noise(rng, (rows, n), noise) + parent_build
    cand = env[:, n:] + process_noise(rng, (rows, n), noise) + cand_build
    return parent, cand


def median_of_5(rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float) -> np.ndarray:
    parent, cand = _blocks(rng, rows, noise, true_ratio, 5)
    return np.median(cand, axis=1) < np.median(parent, axis=1) + math.log(0.99)


def blocks_mw(rng: np.random.Generator, rows: int, noise: Noise, true_ratio: float) -> np.ndarray:
    parent, cand = _blocks(rng, rows, noise, true_ratio, 20)
    p = mannwhitneyu(cand, parent, alternative="less", axis=1).pvalue
    return np.asarray(p < 0.05)


def print_parameters() -> None:
    names = [f.name for f in fields(Noise)]
    print("machines (relative figures):")
    print("  " + " ".join(f"{n:>13}" if i else f"{n:<17}" for i, n in enumerate(names)))
    for noise in LEVELS:
        values = [getattr(noise, n) for n in names]
        print("  " + " ".join(f"{v:>13g}" if i else f"{v:<17}" for i, v in enumerate(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--n", "--rows", dest="rows", type=int, default=4000, help="simulated decisions per cell"
    )
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = args.rows
    started = time.perf_counter()
    aa_max = regress_max = 0.0
    detect: dict[str, float] = {}
    mean_pairs_home = 0.0
    print_parameters()
    print(f"{rows} simulated decisions per cell; kept rate (kept/rows) and mean pairs used")
    print(f"{'machine':<18}{'rule':<14}{'scenario':<12}{'kept':>8}{'count':>12}{'pairs':>8}")
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
                    f"{noise.name:<18}{rule:<14}{scenario:<12}{rate * 100:7.2f}%{count:>12}"
                    f"{mean_pairs:8.1f}"
                )
            rate = float(kept.mean())
            if scenario == "A/A":
                aa_max = max(aa_max, rate)
            elif scenario.startswith("regress"):
                regress_max = max(regress_max, rate)
            else:
                detect[noise.name] = rate
            home_pairs.append(float(pairs.mean()))
            guards.append(guard)
        print(
            f"{noise.name:<18}noise guard: A/A calibration too noisy for the "
            f"{MIN_EFFECT:.0%} minimum in {sum(guards) / len(guards) * 100:.1f}% of runs"
        )
        if noise.name == "home":
            mean_pairs_home = sum(home_pairs) / len(home_pairs)
    elapsed = time.perf_counter() - started
    print(f"fixed design for comparison: {FIXED_DESIGN_PAIRS} pairs; elapsed {elapsed:.1f} s")
    print(
        f"decision_sim: aa_false_keep_max={aa_max * 100:.2f}% "
        f"detect3_home={detect['home'] * 100:.1f}% "
        f"detect3_layout={detect['home+layout'] * 100:.1f}% "
        f"regress_keep_max={regress_max * 100:.2f}% mean_pairs_home={mean_pairs_home:.1f}"
    )


if __name__ == "__main__":
    main()
