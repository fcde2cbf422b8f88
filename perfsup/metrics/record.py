"""The decision record: one typed shape from the statistics to the store to
export and report.

The sequential rule yields a `Decision` per pass (first pass, re-verification,
an ablation of `perfsup minimize`); each becomes a `PassRecord`, the passes of
one experiment a `DecisionRecord`, stored as JSON in `Node.decision_json`.
Export and report read it back with `DecisionRecord.from_json`, which also
reads every record stored before this module (same keys; a record it cannot
read is None, never an error: a damaged row only loses its detail).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from perfsup.metrics.stats import Decision, MetricDecision


class PassRecord(BaseModel):
    """One pass of the rule over fresh pairs: what it decided and every metric's numbers."""

    model_config = ConfigDict(frozen=True)

    phase: str = "decide"  # decide, verify, ablate-<id>, ...
    keep: bool = False
    reason: str = ""
    rule: str = ""
    # the level of each look under alpha spending (rule v3); one float for older rules
    alpha_per_look: dict[int, float] | float | None = None
    spending: str | None = None
    looks: list[int] = []
    metrics: list[MetricDecision] = []

    @classmethod
    def of(
        cls, phase: str, decision: Decision, alpha_per_look: float, looks: tuple[int, ...]
    ) -> PassRecord:
        return cls(
            phase=phase,
            keep=decision.keep,
            reason=decision.reason,
            rule=decision.rule,
            alpha_per_look=alpha_per_look,
            looks=list(looks),
            metrics=list(decision.per_metric),
        )


@dataclass(frozen=True)
class Effect:
    """One metric's effect as export and report show it."""

    metric: str  # "" when only the node's primary numbers are known
    effect: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    pairs: int | None
    phase: str = "decide"

    def line(self) -> str:
        """`time_ms 38.2% better [+35.1%, +41.0%] (re-verified, 10 pairs, p=0.002)`."""
        word = "better" if self.effect >= 0 else "worse"
        text = f"{self.metric or 'effect'} {abs(self.effect):.1%} {word}"
        if self.ci_low is not None and self.ci_high is not None:
            text += f" [{self.ci_low:+.1%}, {self.ci_high:+.1%}]"
        details = ["re-verified" if self.phase == "verify" else "first pass"]
        if self.pairs:
            details.append(f"{self.pairs} pairs")
        if self.p_value is not None and math.isfinite(self.p_value):
            details.append(f"p={self.p_value:.2g}")
        return f"{text} ({', '.join(details)})"


class DecisionRecord(BaseModel):
    """Every pass that decided one experiment (Node.decision_json)."""

    model_config = ConfigDict(frozen=True)

    rule: str = ""
    passes: list[PassRecord] = []

    @property
    def final(self) -> PassRecord | None:
        """The pass that decided: the re-verification where there was one."""
        return self.passes[-1] if self.passes else None

    def effects(self) -> list[Effect]:
        """Per metric, the numbers of the deciding pass."""
        last = self.final
        if last is None:
            return []
        return [
            Effect(m.metric, m.effect, m.ci_low, m.ci_high, m.p_value, m.pairs, last.phase)
            for m in last.metrics
        ]

    def to_json(self) -> str:
        data = self.model_dump(mode="python")
        for stored in data["passes"]:
            if stored.get("spending") is None:  # rules before v3 stored no spending
                stored.pop("spending", None)
        return json.dumps(data, default=_plain)

    @classmethod
    def from_json(cls, text: str | None) -> DecisionRecord | None:
        """The record stored in `text`; None when there is none or it cannot be read."""
        if not text:
            return None
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
            return None


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
