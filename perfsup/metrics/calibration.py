"""The minimum effect, calibrated from A/A pairs (the parent against itself).

A/A pairs measure what noise alone looks like on this machine right now. The
half-width of the Hodges-Lehmann interval of their log gains, rescaled from
the A/A pair count to the most pairs a decision may use (interval widths
shrink like 1/sqrt(pairs)), is the *noise floor*: the smallest effect a
decision could tell from noise. The threshold a change must reach is the
larger of the configured `min_effect` and that floor. When the floor is above
`min_effect` the machine is too noisy to detect the smallest gain worth having:
the noise guard (engine) says so and waits, stops or raises the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfsup.metrics.stats import Direction, paired_stats, to_effect


@dataclass(frozen=True)
class Calibration:
    """What one A/A calibration measured for one metric."""

    metric: str
    pairs: int
    effect: float  # A/A Hodges-Lehmann estimate, relative; ideally 0
    ci_low: float
    ci_high: float
    noise_floor: float  # relative effect noise alone reaches at max_pairs
    threshold: float  # max(min_effect, noise_floor)
    too_noisy: bool  # noise_floor > min_effect


def noise_floor_logs(gains: np.ndarray, alpha: float, max_pairs: int) -> np.ndarray:
    """Per row of A/A log gains: the interval half-width rescaled to `max_pairs`."""
    stats = paired_stats(gains, alpha)
    half = (stats.high - stats.low) / 2.0
    return half * math.sqrt(stats.pairs / max_pairs)


def calibrate(
    metric: str,
    gains: np.ndarray,
    direction: Direction,
    min_effect: float,
    alpha: float,
    max_pairs: int,
) -> Calibration:
    """Calibrate one metric from its A/A log gains (1-D)."""
    stats = paired_stats(gains, alpha)
    floor_log = float(noise_floor_logs(gains, alpha, max_pairs)[0])
    floor = math.expm1(floor_log)  # the larger of the two readings of a log width
    return Calibration(
        metric=metric,
        pairs=stats.pairs,
        effect=to_effect(float(stats.hl[0]), direction),
        ci_low=to_effect(float(stats.low[0]), direction),
        ci_high=to_effect(float(stats.high[0]), direction),
        noise_floor=floor,
        threshold=max(min_effect, floor),
        too_noisy=floor > min_effect,
    )
