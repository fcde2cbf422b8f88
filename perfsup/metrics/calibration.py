"""The minimum effect, calibrated from A/A pairs (the parent against itself).

A/A pairs measure what noise alone looks like on this machine right now. The
half-width of the Hodges-Lehmann interval of their log gains, rescaled from
the A/A pair count to the most pairs a decision may use (interval widths
shrink like 1/sqrt(pairs)), is the *noise floor*: the smallest effect a
decision could tell from noise. When the floor is above `min_effect` the
machine is too noisy to detect the smallest gain worth having with the
configured pairs: the noise guard (engine) says so -- event, headless line,
status -- and, as configured, uses more pairs (`pairs_needed`, rule v3's
default), waits, stops, or raises the threshold to the floor (`threshold`).
Raising the threshold silently threw real gains away (issue 15), so it is no
longer the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perfsup.metrics.scales import Scale, effect_of
from perfsup.metrics.stats import Direction, paired_stats


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
    pairs_needed: int = 0  # pairs whose floor would reach min_effect (widths ~ 1/sqrt(pairs))


def pairs_needed(noise_floor: float, min_effect: float, pairs: int) -> int:
    """Pairs per pass whose noise floor would reach `min_effect` (widths ~ 1/sqrt(pairs))."""
    if noise_floor <= min_effect:
        return pairs
    if min_effect <= 0:
        return 10**6
    return math.ceil(pairs * (noise_floor / min_effect) ** 2)


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
    scale: Scale = "log",
) -> Calibration:
    """Calibrate one metric from its A/A gains (1-D, on the metric's `scale`)."""
    stats = paired_stats(gains, alpha)
    floor_gain = float(noise_floor_logs(gains, alpha, max_pairs)[0])
    # on the log scale, the larger of the two readings of a log width
    floor = math.expm1(floor_gain) if scale == "log" else floor_gain
    needed = pairs_needed(floor, min_effect, max_pairs)
    return Calibration(
        metric=metric,
        pairs=stats.pairs,
        effect=effect_of(float(stats.hl[0]), direction, scale),
        ci_low=effect_of(float(stats.low[0]), direction, scale),
        ci_high=effect_of(float(stats.high[0]), direction, scale),
        noise_floor=floor,
        threshold=max(min_effect, floor),
        too_noisy=floor > min_effect,
        pairs_needed=needed,
    )
