"""The preflight report in words: what ran, what the bench printed, how noisy it
is, what the engine will do about the noise, and what one night holds.

`perfsup check` prints all of it; `perfsup run` prints it as its first lines,
so the morning never has to guess why a threshold was higher than configured.
"""

from __future__ import annotations

import statistics

from perfsup.config import Config
from perfsup.engine.preflight import PREFLIGHT_PAIRS, MetricNoise, PreflightReport


def report_lines(report: PreflightReport, config: Config) -> list[str]:
    """The whole report, one line per fact."""
    lines = [f"preflight of the baseline {report.baseline[:12]}"]
    lines.append(f"  model:  {report.model}")
    for step in report.steps:
        if step.step == "bench":
            runs = config.bench.warmup + 2 * PREFLIGHT_PAIRS
            lines.append(
                f"  bench:  `{step.command}` ran {runs} times, {step.seconds:.2f} s each (median)"
            )
        else:
            lines.append(f"  {step.step}:  `{step.command}` passed in {step.seconds:.1f} s")
    for metric in report.metrics:
        lines.append("  " + metric_line(metric))
    lines += noise_lines(report, config)
    lines.append("  " + night_line(report, config))
    return lines


def metric_line(metric: MetricNoise) -> str:
    spec = metric.spec
    unit = f" {spec.unit}" if spec.unit else ""
    median = statistics.median(metric.values)
    spread = (max(metric.values) - min(metric.values)) / median if median else 0.0
    return (
        f"metric {spec.name} ({spec.direction} is better): median {median:.6g}{unit} over "
        f"{len(metric.values)} runs, range {spread:.1%} of the median"
    )


def noise_lines(report: PreflightReport, config: Config) -> list[str]:
    """Per metric: the noise floor, the smallest detectable effect, and what will happen."""
    decision = config.decision
    pairs = report.max_pairs
    lines: list[str] = []
    for metric in report.metrics:
        name = metric.spec.name
        if not metric.too_noisy:
            lines.append(
                f"  noise {name}: floor {metric.noise_floor:.1%} at {pairs} pairs, below "
                f"min_effect {decision.min_effect:.1%}: a change of {decision.min_effect:.1%} "
                "or more can be detected"
            )
            continue
        lines.append(
            f"  noise {name}: floor {metric.noise_floor:.1%} at {pairs} pairs is above min_effect "
            f"{decision.min_effect:.1%}; the smallest effect detectable is "
            f"{metric.noise_floor:.1%}; {_on_noise(config, metric)}"
        )
        lines.append(f"    what would help: {_help(config, metric)}")
    return lines


def _on_noise(config: Config, metric: MetricNoise) -> str:
    """What the engine's noise guard will do about this noise (`decision.on_noise`)."""
    decision = config.decision
    if decision.on_noise == "raise":
        return (
            f"the keep threshold will be raised from {decision.min_effect:.1%} to about "
            f"{metric.threshold:.1%} (measured noise), so smaller real gains will be discarded "
            "(on_noise = raise)"
        )
    if decision.on_noise == "stop":
        return "the run will stop at its first calibration if that confirms it (on_noise = stop)"
    more = _more_pairs(config, metric)
    if decision.on_noise == "wait":
        return (
            f"the run will wait for a quieter machine up to {decision.max_wait_s:g} s, then {more}"
        )
    return more + " (on_noise = extend)"


def _more_pairs(config: Config, metric: MetricNoise) -> str:
    """on_noise = extend: more pairs per pass, up to decision.max_pairs; the threshold stays."""
    most = config.decision.max_pairs or 2 * config.bench.pairs  # 0: twice bench.pairs
    if metric.pairs_needed <= most:
        return (
            f"the run will use up to about {metric.pairs_needed} pairs per pass; the threshold "
            f"stays at {config.decision.min_effect:.1%}"
        )
    return (
        f"it would take about {metric.pairs_needed} pairs, more than the {most} allowed "
        f"(decision.max_pairs): the run will use {most}, so gains near "
        f"{config.decision.min_effect:.1%} may be missed"
    )


def _help(config: Config, metric: MetricNoise) -> str:
    tips = []
    if metric.pairs_needed > config.bench.pairs:
        tips.append(f"bench.pairs = {metric.pairs_needed} (now {config.bench.pairs})")
    tips += [
        "a quieter machine (nothing else running, on mains power)",
        "a longer bench (more work per run averages the noise out)",
    ]
    return "; ".join(tips)


def night_line(report: PreflightReport, config: Config) -> str:
    budget = config.budgets.max_experiments
    fit = report.experiments_in_night
    limit = f"; max_experiments = {budget} ends the run first" if budget < fit else ""
    return (
        f"one experiment: about {_duration(report.experiment_s)} plus the model's answer "
        f"(build, check, {config.bench.warmup} warm-up and up to {report.max_pairs} pairs); "
        f"about {fit} fit in {report.night_label}{limit}"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
