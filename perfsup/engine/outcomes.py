"""How an experiment's end reaches the store: its decision numbers, its final
status and reason, and the `node_finished` event.

The loop decides with `Measurer.judge`; `perfsup minimize` (results/) decides
its ablations the same way and records them through this module, so what a
decision writes is said once.
"""

from __future__ import annotations

from perfsup.engine.measure import Judgement, decision_json
from perfsup.store import Node, NodeStatus, Store
from perfsup.store.models import utcnow
from perfsup.store.tree import record_event

__all__ = ["NodeOutcomes", "decision_fields"]


def decision_fields(judgement: Judgement) -> dict[str, object]:
    """The node columns a measured judgement sets: the primary metric's numbers
    (re-verified pass if any) and every pass as JSON."""
    primary = judgement.recorded
    assert primary is not None, "a judgement without a failure records its primary metric"
    return {
        "decision_rule": judgement.rule,
        "effect": primary.effect,
        "ci_low": primary.ci_low,
        "ci_high": primary.ci_high,
        "p_value": primary.p_value,
        "pairs_used": judgement.pairs_used,
        "threshold": primary.threshold,
        "decision_json": decision_json(judgement),
        "analysis": judgement.analysis,
    }


class NodeOutcomes:
    """Writes nodes as one actor ("engine", or "human" for a person's command)."""

    def __init__(self, store: Store, actor: str = "engine") -> None:
        self.store = store
        self.actor = actor

    def set(self, node: Node, **fields: object) -> None:
        """Write `fields` to the stored node and to `node` alike."""
        with self.store.session() as s:
            stored = s.get(Node, node.id)
            assert stored is not None
            for key, value in fields.items():
                setattr(stored, key, value)
                setattr(node, key, value)

    def move(self, node: Node, status: NodeStatus, **fields: object) -> None:
        """The one status write (the node state machine's compare-and-set, once the
        engine has one): `node` goes to `status`, with `fields`."""
        self.set(node, status=status, **fields)

    def end(self, node: Node, status: NodeStatus, reason: str, **fields: object) -> None:
        """Finish `node` with `status` and `reason` (and `fields`), with its event."""
        self.move(node, status, reason=reason, finished_at=utcnow(), **fields)
        with self.store.session() as s:
            record_event(
                s,
                "node_finished",
                f"{status.value}: {reason}",
                run_id=node.run_id,
                node_id=node.id,
                actor=self.actor,
            )

    def decide(self, node: Node, judgement: Judgement) -> NodeStatus:
        """Record a judgement: its failure, or its numbers and kept / discarded."""
        if judgement.failure is not None:
            status, reason = judgement.failure
            self.end(node, status, reason)
            return status
        self.set(node, **decision_fields(judgement))
        status = NodeStatus.KEPT if judgement.keep else NodeStatus.DISCARDED
        self.end(node, status, judgement.reason)
        return status
