"""The scale a metric's pairs are compared on: log ratio or relative difference.

A time, a rate or a size is compared as a log ratio (scale-free, symmetric).
A count with a natural zero -- allocations per operation, bytes allocated --
cannot be: the most common Go win, allocs/op 1 -> 0, has no log ratio. Such a
metric is compared as the paired difference relative to the parent's median
(scale "diff"), so 1 -> 0 is a 100% gain and 0 -> 0 is no change.

`MetricSpec.scale` picks one; "auto" (the default) chooses "diff" for a metric
whose unit, field or name says it counts allocations or bytes allocated, and
"log" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from perfsup.config import MetricSpec
from perfsup.metrics.stats import Direction, log_gains, to_effect

Scale = Literal["log", "diff"]

_COUNT_WORDS = ("alloc", "b/op", "bytes/op", "count")


def resolve_scale(spec: MetricSpec) -> Scale:
    """The scale `spec` is compared on ("auto" resolved by its unit, field and name)."""
    if spec.scale != "auto":
        return spec.scale
    text = f"{spec.unit} {spec.field or ''} {spec.name}".lower()
    return "diff" if any(word in text for word in _COUNT_WORDS) else "log"


def metric_gains(
    spec: MetricSpec, parent: Sequence[float], candidate: Sequence[float]
) -> np.ndarray:
    """Per pair, the candidate's gain on the metric's scale; positive is better.

    Raises `ValueError` naming the metric, the sample and the fix for samples
    the scale cannot use (zero or negative on the log scale, not finite).
    """
    if resolve_scale(spec) == "log":
        try:
            return log_gains(spec.name, parent, candidate, spec.direction)
        except ValueError as exc:
            if "needs finite positive" not in str(exc):
                raise
            raise ValueError(
                f'{exc}; for a count with a natural zero set scale = "diff" on this metric'
            ) from None
    if len(parent) != len(candidate) or not parent:
        return log_gains(spec.name, parent, candidate, spec.direction)  # its error
    for side, values in (("parent", parent), ("candidate", candidate)):
        for index, value in enumerate(values):
            if not math.isfinite(value):
                raise ValueError(
                    f"metric {spec.name}: {side} sample {index} is {value!r}; expected a "
                    "finite number"
                )
    p = np.asarray(parent, dtype=float)
    c = np.asarray(candidate, dtype=float)
    ref = _reference(p, c)
    return (p - c) / ref if spec.direction == "lower" else (c - p) / ref


def effect_of(gain: float, direction: Direction, scale: Scale) -> float:
    """A gain on the metric's scale as a relative change, positive is better."""
    return to_effect(gain, direction) if scale == "log" else gain


def gain_of(relative: float, direction: Direction, scale: Scale) -> float:
    """A relative gain (0.02 = 2% better) on the metric's scale."""
    if scale == "diff":
        return relative
    if direction == "lower":
        return -math.log1p(-relative) if relative < 1.0 else math.inf
    return math.log1p(relative)


def loss_of(relative: float, direction: Direction, scale: Scale) -> float:
    """A relative regression (0.03 = 3% worse) as a positive size on the metric's scale."""
    if scale == "diff":
        return relative
    if direction == "lower":
        return math.log1p(relative)
    return -math.log1p(-relative) if relative < 1.0 else math.inf


def _reference(parent: np.ndarray, candidate: np.ndarray) -> float:
    """The size a difference is relative to: the parent's median, else the candidate's, else 1."""
    for values in (parent, candidate):
        ref = float(np.median(np.abs(values)))
        if ref > 0:
            return ref
    return 1.0
