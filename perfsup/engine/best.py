"""The best kept node of a run, and the gain a path compounds to.

The engine needs it at the end of a night (the confirmation measures the best
node again) and the morning-after code for export and the report, so it lives
here, below both.
"""

from __future__ import annotations

import math

from sqlmodel import Session, select

from perfsup.config import MetricSpec
from perfsup.metrics.record import DecisionRecord, Effect
from perfsup.store import Node, NodeStatus
from perfsup.store.tree import id_key, lineage

__all__ = ["best_node", "compounded_gain", "metric_effects"]


def metric_effects(node: Node) -> list[Effect]:
    """Per metric, the numbers of the pass that decided `node` (re-verified if any)."""
    record = DecisionRecord.from_json(node.decision_json)
    if record is not None and record.passes:
        return record.effects()
    if node.effect is None:
        return []
    return [
        Effect("", node.effect, node.ci_low, node.ci_high, node.p_value, node.pairs_used, "decide")
    ]


def compounded_gain(
    nodes: list[Node], metric: str | None, direction: str = "lower"
) -> float | None:
    """The relative gain of the path's end over its start: the product of the steps.

    Effects are "fraction better" as in `metrics.stats` (1 - new/old for a
    lower-is-better metric, new/old - 1 for a higher one), so the steps add up
    as log ratios. `metric` None takes each node's first (primary) metric.
    """
    log_sum = 0.0
    seen = False
    for node in nodes:
        effects = metric_effects(node)
        chosen = effects[:1] if metric is None else [m for m in effects if m.metric == metric]
        for m in chosen:
            effect = m.effect
            if direction == "higher":
                log_sum += math.log(max(1.0 + effect, 1e-12))
            else:
                log_sum -= math.log(max(1.0 - effect, 1e-12))
            seen = True
    if not seen:
        return None
    return math.exp(log_sum) - 1.0 if direction == "higher" else 1.0 - math.exp(-log_sum)


def best_node(session: Session, run_id: int, metrics: list[MetricSpec]) -> Node | None:
    """The best kept node of a run: metric by metric in priority order, compounded from
    the run's baseline; a gain within 0.1% is a tie that the next metric breaks, then
    the shorter path."""
    # Only the kept nodes are read (the TUI asks on a run of 10,000 nodes).
    kept = [
        n
        for n in session.exec(
            select(Node).where(Node.run_id == run_id, Node.status == NodeStatus.KEPT)
        ).all()
        if n.parent_id is not None and n.commit_sha
    ]
    if not kept:
        return None

    def score(node: Node) -> tuple[float, ...]:
        chain = [n for n in lineage(session, node) if n.parent_id is not None]
        gains = []
        for spec in metrics:
            g = compounded_gain(chain, spec.name, spec.direction)
            if g is None and spec is metrics[0]:
                g = compounded_gain(chain, None, spec.direction)
            gains.append(round(g or 0.0, 3))
        return (*gains, -len(chain))

    return max(sorted(kept, key=lambda n: id_key(n.id)), key=score)
