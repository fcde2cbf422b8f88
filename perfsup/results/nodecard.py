"""One experiment explained: the verdict in plain words with its direction and
real units, every metric with its role, the failure reason in full, the
model's description, tokens and time (in total and per model call), and its
benchmark pairs.

Plain Python over the store: the TUI's node card renders `NodeCard.lines()`,
its Bench tab the `pairs`, its pair chart the same pairs; a command-line
view could print the lines as they are.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from perfsup.config import Config, MetricSpec
from perfsup.metrics.record import DecisionRecord
from perfsup.metrics.stats import MetricDecision
from perfsup.results.callcost import call_line, calls_total
from perfsup.results.overview import threshold_note
from perfsup.results.wording import effect_words, interval_words, p_text, unit_of, value_text
from perfsup.store import Calibration, Node, NodeStatus, Sample
from perfsup.store.calls import CallCost, node_calls, total

__all__ = ["NodeCard", "PairRow", "pair_gain", "read_card"]


@dataclass(frozen=True)
class PairRow:
    """One benchmark pair of the primary metric: the parent and the candidate, run back to back."""

    phase: str  # decide, verify
    index: int
    parent: float
    candidate: float
    gain: float  # this pair's relative gain, positive is better


@dataclass(frozen=True)
class NodeCard:
    node_id: str
    status: str
    verdict: str  # the first line: what happened, in words
    metric_lines: list[str] = field(default_factory=list)
    reason: str = ""  # in full
    description: str = ""
    rationale: str = ""
    spent: str = ""  # model, tokens and time
    pairs: list[PairRow] = field(default_factory=list)
    estimate: float | None = None  # the pairs' gain so far (the running node's chart)
    threshold: float | None = None
    threshold_note: str = ""  # why the threshold was above decision.min_effect
    calls: list[str] = field(default_factory=list)  # one line per model call, oldest first

    def lines(self) -> list[str]:
        out = [self.verdict, *self.metric_lines]
        if self.reason:
            out.append(f"reason: {self.reason}")
        if self.description:
            out.append(f"change: {self.description}")
        if self.spent:
            out.append(self.spent)
        if self.threshold_note:
            out.append(f"threshold raised: {self.threshold_note}")
        return out + self.calls


def pair_gain(parent: float, candidate: float, direction: str) -> float:
    """A pair's relative gain in the good direction (0.3 = 30% better)."""
    if parent <= 0 or candidate <= 0:
        return 0.0
    return 1.0 - candidate / parent if direction == "lower" else candidate / parent - 1.0


def read_card(
    s: Session, node: Node, config: Config | None, now: datetime | None = None
) -> NodeCard:
    specs = list(config.metrics) if config else []
    primary = specs[0] if specs else None
    metric = primary.name if primary else ""
    unit = unit_of(metric, primary.unit if primary else "")
    direction = primary.direction if primary else "lower"
    pairs = _pairs(s, node.id, metric, direction) if metric else []
    status = NodeStatus(node.status)
    record = DecisionRecord.from_json(node.decision_json)
    decisions = list(record.final.metrics) if record and record.final else []
    alpha = config.decision.alpha if config else 0.05
    deciding = _deciding(pairs)
    if node.parent_id is None:
        verdict = _baseline_verdict(s, node, metric, unit)
    elif node.effect is not None and status in (NodeStatus.KEPT, NodeStatus.DISCARDED):
        verdict = f"{status.value}: " + _effect_sentence(node, metric, unit, deciding, alpha)
    elif status.in_flight or status is NodeStatus.QUEUED:
        verdict = _running_sentence(node, pairs, metric, unit, config, direction)
    else:
        verdict = f"{status.value.replace('_', ' ')}"
    threshold = node.threshold
    note = _raised(s, node, metric, config)
    costs = node_calls(s, node.id)
    return NodeCard(
        node_id=node.id,
        status=node.status,
        verdict=verdict,
        metric_lines=[_metric_line(d, specs) for d in decisions],
        reason=(node.reason or "") if status is not NodeStatus.KEPT else "",
        description=node.description,
        rationale=node.rationale,
        spent=_spent(node, now, total(costs) if len(costs) > 1 else None),
        pairs=pairs,
        estimate=_estimate(deciding, direction),
        threshold=threshold,
        threshold_note=note,
        calls=[call_line(attempt, cost) for attempt, cost in enumerate(costs)],
    )


def _effect_sentence(node: Node, metric: str, unit: str, pairs: list[PairRow], alpha: float) -> str:
    """`31.0% faster: 52.1 ms -> 36.0 ms, 90% CI 28.0-34.0% faster, 18 pairs, p = 0.001,
    threshold 2.2%`."""
    assert node.effect is not None
    parts = [effect_words(node.effect, metric, unit)]
    if pairs:
        before = statistics.median(p.parent for p in pairs)
        after = statistics.median(p.candidate for p in pairs)
        parts[0] += f": {value_text(before, unit)} -> {value_text(after, unit)}"
    interval = interval_words(node.ci_low, node.ci_high, metric, unit)
    if interval:
        parts.append(f"{(1 - 2 * alpha):.0%} CI {interval}")
    if node.pairs_used:
        parts.append(f"{node.pairs_used} pairs")
    if p_text(node.p_value):
        parts.append(p_text(node.p_value))
    if node.threshold is not None:
        parts.append(f"threshold {node.threshold:.1%}")
    return ", ".join(parts)


def _metric_line(d: MetricDecision, specs: list[MetricSpec]) -> str:
    spec = next((m for m in specs if m.name == d.metric), None)
    unit = unit_of(d.metric, spec.unit if spec else "")
    role = "primary" if d.role in ("primary", "decider") and spec is specs[0] else d.role
    text = f"{d.metric} ({role}): {effect_words(d.effect, d.metric, unit)}"
    interval = interval_words(d.ci_low, d.ci_high, d.metric, unit)
    if interval:
        text += f" [{interval}]"
    text += f", {d.pairs} pairs"
    if p_text(d.p_value):
        text += f", {p_text(d.p_value)}"
    if role == "guard":  # a guard's verdict says whether it held
        text += f", {d.verdict}" + (f": {d.note}" if d.note else "")
    return text


def _baseline_verdict(s: Session, node: Node, metric: str, unit: str) -> str:
    rows = s.exec(
        select(Sample.value).where(
            Sample.node_id == node.id,
            Sample.metric == metric,
            Sample.phase == "calibrate",
            col(Sample.warmup).is_(False),
        )
    ).all()
    if not rows:
        return f"baseline ({node.status}): every experiment starts here"
    return f"baseline: {metric} {value_text(statistics.median(rows), unit)} (A/A calibration)"


def _running_sentence(
    node: Node,
    pairs: list[PairRow],
    metric: str,
    unit: str,
    config: Config | None,
    direction: str,
) -> str:
    status = node.status
    if not pairs:
        return f"{status}: no pairs measured yet"
    planned = config.bench.pairs if config else 0
    estimate = _estimate(pairs, direction)
    text = f"{status}: {len(pairs)}" + (f" of {planned}" if planned else "") + " pairs"
    if estimate is not None:
        text += f", so far {effect_words(estimate, metric, unit)}"
    return text


def _estimate(pairs: list[PairRow], direction: str) -> float | None:
    """The pairs' gain as one figure: the geometric mean of the ratios."""
    ratios = [p.candidate / p.parent for p in pairs if p.parent > 0 and p.candidate > 0]
    if not ratios:
        return None
    mean_log = sum(math.log(r) for r in ratios) / len(ratios)
    return 1.0 - math.exp(mean_log) if direction == "lower" else math.exp(mean_log) - 1.0


def _deciding(pairs: list[PairRow]) -> list[PairRow]:
    """The pairs of the pass that decided (the re-verification where there was one)."""
    verify = [p for p in pairs if p.phase == "verify"]
    return verify or [p for p in pairs if p.phase == "decide"]


def _pairs(s: Session, node_id: str, metric: str, direction: str) -> list[PairRow]:
    rows = s.exec(
        select(Sample).where(
            Sample.node_id == node_id,
            Sample.metric == metric,
            col(Sample.warmup).is_(False),
            col(Sample.phase).in_(["decide", "verify"]),
        )
    ).all()
    sides: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for row in rows:
        sides[(row.phase, row.pair_index)][row.side] = row.value
    out = []
    for (phase, index), got in sorted(sides.items(), key=lambda kv: (kv[0][0] != "decide", kv[0])):
        if "parent" in got and "candidate" in got:
            gain = pair_gain(got["parent"], got["candidate"], direction)
            out.append(PairRow(phase, index, got["parent"], got["candidate"], gain))
    return out


def _raised(s: Session, node: Node, metric: str, config: Config | None) -> str:
    """Why this node was held to more than decision.min_effect (the calibration then)."""
    min_effect = config.decision.min_effect if config else None
    if min_effect is None or node.threshold is None or node.threshold <= min_effect + 1e-9:
        return ""
    query = select(Calibration).where(
        Calibration.run_id == node.run_id, Calibration.metric == metric
    )
    if node.finished_at is not None:
        query = query.where(col(Calibration.created_at) <= node.finished_at)
    calibration = s.exec(query.order_by(col(Calibration.id).desc())).first()
    if calibration is None:
        return f"{min_effect:.1%} -> {node.threshold:.1%}"
    return threshold_note(calibration, min_effect, config)


def _spent(node: Node, now: datetime | None, calls: CallCost | None) -> str:
    parts = []
    if node.model:
        parts.append(f"model {node.model}")
    tokens = node.prompt_tokens + node.completion_tokens
    if tokens:
        parts.append(f"tokens {node.prompt_tokens:,} + {node.completion_tokens:,}")
    if node.started_at is not None:
        end = node.finished_at or now or datetime.now(UTC)
        seconds = (_aware(end) - _aware(node.started_at)).total_seconds()
        word = "took" if node.finished_at else "running for"
        parts.append(f"{word} {_seconds(seconds)}")
    if calls is not None:  # the calls' sum; each call has a line of its own below
        parts.append(calls_total(calls))
    return " · ".join(parts)


def _seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
