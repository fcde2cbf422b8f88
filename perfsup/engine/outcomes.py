"""How an experiment's end reaches the store: its decision numbers, its final
status and reason, and its event (`node_kept` or `node_finished`).

The loop decides with `Measurer.judge`; `perfsup minimize` (results/) decides
its ablations the same way and records them through this module, so what a
decision writes is said once. A status moves only through
`store.transitions.move` (compare-and-set): when a person ended a node first,
their status stands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsup.engine.measure import Judgement, decision_json
from perfsup.store import Node, NodeStatus, Store
from perfsup.store.models import EventKind, utcnow
from perfsup.store.transitions import ENDS, LostTransition, move
from perfsup.store.tree import record_event, record_log

__all__ = ["NodeOutcomes", "decision_fields"]


def decision_fields(judgement: Judgement) -> dict[str, Any]:
    """The node columns a measured judgement sets: the primary metric's numbers
    (re-verified pass if any) and every pass as the decision record's JSON."""
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

    def __init__(
        self,
        store: Store,
        actor: str = "engine",
        report: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.store = store
        self.actor = actor
        self.report = report

    def set(self, node: Node, **fields: Any) -> None:
        """Write `fields` (not the status: see `move`) to the stored node and to `node`."""
        assert "status" not in fields, "statuses move through store.transitions"
        with self.store.session() as s:
            stored = s.get(Node, node.id)
            assert stored is not None
            for key, value in fields.items():
                setattr(stored, key, value)
                setattr(node, key, value)

    def move(
        self, node: Node, status: NodeStatus, *, log: tuple[str, Path] | None = None, **fields: Any
    ) -> None:
        """The one status write: `node` goes from the status this writer last saw
        to `status`, with `fields` (compare-and-set; LostTransition if it moved).
        `log` (step, path) is noted in the same transaction: one commit, not two."""
        with self.store.session() as s:
            move(s, node, status, expected=node.status, **fields)
            if log is not None:
                record_log(s, node.id, log[0], str(log[1]))

    def end(self, node: Node, status: NodeStatus, reason: str, **fields: Any) -> bool:
        """Finish `node` with `status` and `reason` (and `fields`), with its event;
        False when a person ended it first (their status stands)."""
        kind = EventKind.NODE_KEPT if status is NodeStatus.KEPT else EventKind.NODE_FINISHED
        try:
            with self.store.session() as s:  # the status and its event in one commit
                move(
                    s,
                    node,
                    status,
                    expected=node.status,
                    reason=reason,
                    finished_at=utcnow(),
                    **fields,
                )
                record_event(
                    s,
                    kind,
                    f"{status.value}: {reason}",
                    run_id=node.run_id,
                    node_id=node.id,
                    actor=self.actor,
                )
        except LostTransition as exc:
            if exc.found not in ENDS:
                raise
            self.report(f"{node.id:<10} left {node.status}: {exc}")
            return False
        return True

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
