"""The keep threshold in words: what it is, why, and what would lower it.

One wording for every place that explains a decision -- the engine's headless
line and events, a discard's reason, `perfsup status`, the morning report and
the TUI -- built from what the store keeps: a `Calibration` row (the A/A noise
floor and what the noise guard did) and the run's config (`min_effect`, the
pairs). Raising the threshold silently threw a real 11% gain away on a noisy
machine (issue 16); every raised threshold now says from what, to what, why,
and what would help.

Entry points: `explain_threshold(facts)` (one sentence per metric),
`explain_below(effect, facts)` (a discard whose effect was below a raised
threshold), and `run_threshold_lines(session, run_id, config)` (the newest
calibration of each metric of a run, explained).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import Session, col, select

from perfsup.config import Config
from perfsup.metrics.calibration import pairs_needed
from perfsup.metrics.sequential import default_looks
from perfsup.store import Calibration, Node, NodeStatus, Run

__all__ = [
    "NoiseFacts",
    "explain_below",
    "explain_threshold",
    "facts_of",
    "floor_pairs",
    "hidden_by_raised_threshold",
    "pairs_needed",
    "run_config",
    "run_threshold_lines",
]


def floor_pairs(config: Config) -> tuple[int, int]:
    """(the pairs per pass the A/A noise floor is computed for, the most a pass may use):
    the engine's plan (`engine/measure.py`) from the same config."""
    looks = tuple(config.decision.looks) or default_looks(config.bench.pairs, config.max_pairs)
    return min(config.bench.pairs, looks[-1]), looks[-1]


@dataclass(frozen=True)
class NoiseFacts:
    """One metric's threshold and the A/A calibration that set it."""

    metric: str
    min_effect: float  # decision.min_effect: the smallest gain worth keeping
    noise_floor: float  # the effect noise alone reaches at `floor_pairs` pairs
    threshold: float  # the threshold in force
    action: str  # what the noise guard did: ok, extend, wait, stop, raise
    floor_pairs: int  # pairs per pass the floor is computed for (bench.pairs)
    max_pairs: int  # the most pairs one pass may use (decision.max_pairs)
    calibration_pairs: int  # A/A pairs measured

    @property
    def raised(self) -> bool:
        return self.threshold > self.min_effect * (1 + 1e-9) + 1e-12

    @property
    def pairs_needed(self) -> int:
        return pairs_needed(self.noise_floor, self.min_effect, self.floor_pairs)


def facts_of(row: Calibration, config: Config | None) -> NoiseFacts:
    """The facts of a stored calibration; `config` is the run's (None: not readable)."""
    if config is not None:
        min_effect = config.decision.min_effect
        pairs, most = floor_pairs(config)
    else:  # the stored threshold is min_effect unless the guard raised it
        min_effect = row.threshold if row.action != "raise" else 0.0
        pairs = most = row.pairs
    return NoiseFacts(
        metric=row.metric,
        min_effect=min_effect,
        noise_floor=row.noise_floor,
        threshold=row.threshold,
        action=row.action,
        floor_pairs=pairs,
        max_pairs=most,
        calibration_pairs=row.pairs,
    )


def _help(facts: NoiseFacts) -> str:
    """What would lower the noise floor: more pairs (how many), a quieter machine, a
    longer bench."""
    tips = []
    if facts.min_effect > 0 and facts.pairs_needed > facts.floor_pairs:
        tips.append(
            f"about {facts.pairs_needed} pairs per pass would make {facts.min_effect:.1%} "
            f"detectable (bench.pairs = {facts.floor_pairs} now"
            + (
                f", decision.max_pairs = {facts.max_pairs}"
                if facts.max_pairs < facts.pairs_needed
                else ""
            )
            + ")"
        )
    tips += [
        "a quieter machine (nothing else running, on mains power)",
        "a longer bench (more work per run averages the noise out)",
    ]
    return "what would help: " + "; ".join(tips)


def explain_threshold(facts: NoiseFacts) -> str:
    """One plain sentence (or three) on the threshold of `facts.metric`."""
    floor = (
        f"the A/A calibration measured a noise floor of {facts.noise_floor:.1%} at "
        f"{facts.floor_pairs} pairs ({facts.calibration_pairs} A/A pairs)"
    )
    name = facts.metric
    if facts.raised:
        return (
            f"{name}: keep threshold raised from {facts.min_effect:.1%} to "
            f"{facts.threshold:.1%} (on_noise = raise) because {floor}; real gains below "
            f"{facts.threshold:.1%} are discarded; {_help(facts)}"
        )
    if facts.action == "ok" or facts.noise_floor <= facts.min_effect:
        return (
            f"{name}: keep threshold {facts.threshold:.1%} (min_effect); {floor}, below it: "
            f"a gain of {facts.threshold:.1%} or more can be detected"
        )
    if facts.action == "stop":
        what = "the run stopped (on_noise = stop)"
    elif facts.action == "wait":
        what = "the run waited for a quieter machine before calibrating again (on_noise = wait)"
    else:
        more = min(facts.pairs_needed, facts.max_pairs)
        what = f"a pass uses up to {more} pairs instead (on_noise = extend)" + (
            "" if facts.pairs_needed <= facts.max_pairs else "; gains near it may be missed"
        )
    return (
        f"{name}: keep threshold stays at {facts.threshold:.1%}, but {floor}, above it: "
        f"{what}; {_help(facts)}"
    )


def explain_below(effect: float, facts: NoiseFacts) -> str:
    """`+11.0% measured, below the threshold 56.5% raised from 2.0% by the A/A noise ...`,
    for a change discarded under a raised threshold; "" when the threshold did not matter
    (not raised, or the effect below min_effect anyway)."""
    if not facts.raised or effect < facts.min_effect or effect >= facts.threshold:
        return ""
    return (
        f"{facts.metric} {effect:+.1%} measured, below the threshold {facts.threshold:.1%} "
        f"raised from {facts.min_effect:.1%} by the A/A noise floor {facts.noise_floor:.1%} "
        f"at {facts.floor_pairs} pairs; at {facts.min_effect:.1%} it might have been kept; "
        + _help(facts)
    )


def hidden_by_raised_threshold(node: Node, min_effect: float | None) -> bool:
    """A discard whose gain reached min_effect but not the threshold the noise raised:
    its reason (`explain_below`) is worth showing wherever discards are listed."""
    if min_effect is None or node.status != NodeStatus.DISCARDED:
        return False
    if node.threshold is None or node.effect is None:
        return False
    return node.threshold > min_effect and min_effect <= node.effect < node.threshold


def run_config(run: Run, fallback: Config | None = None) -> Config | None:
    """The settings a run was judged by (its stored config), else `fallback`.

    Only the numbers are needed here, so the stored text is validated without
    resolving its paths (the config file may have moved since)."""
    if run.config_toml:
        try:
            return Config.model_validate(tomllib.loads(run.config_toml))
        except (tomllib.TOMLDecodeError, ValidationError):
            pass  # not readable by this version
    return fallback


def run_facts(session: Session, run_id: int, config: Config | None = None) -> list[NoiseFacts]:
    """The newest calibration of each metric of a run, as facts (config: the run's
    stored config, else `config`)."""
    run = session.get(Run, run_id)
    if run is None:
        return []
    chosen = run_config(run, config)
    rows = session.exec(
        select(Calibration).where(Calibration.run_id == run_id).order_by(col(Calibration.id))
    ).all()
    latest = {row.metric: row for row in rows}
    return [facts_of(row, chosen) for row in latest.values()]


def run_threshold_lines(session: Session, run_id: int, config: Config | None = None) -> list[str]:
    """Per metric, the newest calibration of the run explained (`explain_threshold`)."""
    return [explain_threshold(f) for f in run_facts(session, run_id, config)]
