"""Effects in words a person reads without a legend.

A stored effect is "fraction better in the metric's good direction" (see
`metrics.stats`): +0.975 on a lower-is-better time means 97.5% faster, and
printed as "+97.5%" it reads as slower. Every human-facing place that shows
an effect says the direction in a word instead: faster/slower for a time,
better/worse for anything else.
"""

from __future__ import annotations

import math

TIME_UNITS = frozenset({"ns", "us", "µs", "ms", "s", "sec", "seconds", "min"})


def is_time(metric: str, unit: str = "") -> bool:
    """A time is said "faster"/"slower"; everything else "better"/"worse"."""
    if unit:
        return unit.strip().lower() in TIME_UNITS
    name = metric.lower()
    return any(name.endswith(f"_{u}") for u in ("ns", "us", "ms", "s")) or "time" in name


def direction_words(metric: str, unit: str = "") -> tuple[str, str]:
    """(the word for a gain, the word for a loss)."""
    return ("faster", "slower") if is_time(metric, unit) else ("better", "worse")


def percent(value: float, digits: int = 1) -> str:
    """0.3104 -> "31.0" (no sign: the word after it says which way)."""
    return f"{abs(value) * 100:.{digits}f}"


def effect_words(effect: float, metric: str, unit: str = "", digits: int = 1) -> str:
    """0.975 -> "97.5% faster", -0.021 -> "2.1% slower", 0 -> "no change"."""
    if round(effect * 100, digits) == 0:
        return "no change"
    good, bad = direction_words(metric, unit)
    return f"{percent(effect, digits)}% {good if effect > 0 else bad}"


def interval_words(low: float | None, high: float | None, metric: str, unit: str = "") -> str:
    """The interval of an effect in the same words: "28.0-34.0% faster",
    "2.0% slower to 5.1% faster" when it spans no change."""
    if low is None or high is None:
        return ""
    good, bad = direction_words(metric, unit)
    if low >= 0:
        return f"{percent(low)}-{percent(high)}% {good}"
    if high <= 0:
        return f"{percent(high)}-{percent(low)}% {bad}"
    return f"{percent(low)}% {bad} to {percent(high)}% {good}"


def signed_interval(low: float | None, high: float | None) -> str:
    """The tree's compact column: "[28.0, 34.0]", positive is the good direction."""
    if low is None or high is None:
        return ""
    return f"[{low * 100:.1f}, {high * 100:.1f}]"  # a minus is the only sign shown


def value_text(value: float | None, unit: str = "") -> str:
    """A measured value in its unit with three significant digits: "52.1 ms"."""
    if value is None or not math.isfinite(value):
        return "?"
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        number = f"{value:,.0f}"
    elif magnitude >= 10:
        number = f"{value:.1f}"
    elif magnitude >= 1:
        number = f"{value:.2f}"
    else:
        number = f"{value:.3g}"
    return f"{number} {unit}".strip()


def p_text(p_value: float | None) -> str:
    """ "p = 0.001", "p < 0.001"; "" when unknown."""
    if p_value is None or not math.isfinite(p_value):
        return ""
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.2g}" if p_value < 0.01 else f"p = {p_value:.2f}"


def unit_of(metric: str, unit: str = "") -> str:
    """The configured unit, else the one the name ends with (`time_ms` -> "ms")."""
    if unit:
        return unit
    suffix = metric.rsplit("_", 1)[-1] if "_" in metric else ""
    return suffix if suffix in TIME_UNITS or suffix in ("bytes", "kb", "mb", "ops") else ""
