"""The node state machine as data: the statuses, the allowed moves, and the one
compare-and-set that every writer of a node's status goes through.

Two threads and one other process write node statuses (the loop, the proposal
made ahead, the command watcher applying a prune, `perfsup minimize`). A blind
write lets one undo another: a prune that lands between creating a child and
starting its proposal was overwritten with `proposing`, and the pruned child
was measured anyway. Here every move names the status it expects; the UPDATE
only happens `WHERE status = :expected`, so the late writer learns that it
lost (`LostTransition`) instead of overwriting. A move the table does not
allow is a bug and raises `IllegalTransition`.

    queued ──> proposing ──> applying ──> building ──> checking ──> benchmarking
      │                        │   (measuring steps may be skipped forwards; they
      └──> building/checking/  └──> may go back to queued: a stopped baseline
           benchmarking              check, a remote experiment re-queued)
    queued or any step ──> an end status (kept, discarded, a failure, pruned...)
    any end status but pruned ──> pruned   (a person prunes a finished node)
    pruned ──> any other end status        (a person undoes the prune)
    failed, interrupted, cancelled ──> queued   (a run's baseline, checked again)

`tests/test_transitions.py` scans perfsup for status writes that bypass this
module; `tests/test_architecture.py` draws ARCHITECTURE.md's diagram from `ALLOWED`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from perfsup.store.models import IN_FLIGHT, Node, NodeStatus

__all__ = [
    "ALLOWED",
    "ENDS",
    "IN_FLIGHT",
    "STEPS",
    "IllegalTransition",
    "LostTransition",
    "NodeStatus",
    "TransitionError",
    "check_move",
    "move",
    "new_node",
]

# The in-flight steps in the order an experiment goes through them.
STEPS: tuple[NodeStatus, ...] = (
    NodeStatus.PROPOSING,
    NodeStatus.APPLYING,
    NodeStatus.BUILDING,
    NodeStatus.CHECKING,
    NodeStatus.BENCHMARKING,
)
assert frozenset(STEPS) == IN_FLIGHT

# Where a node's story ends (a person may still prune it afterwards).
ENDS: frozenset[NodeStatus] = frozenset(NodeStatus) - IN_FLIGHT - {NodeStatus.QUEUED}

# A run's baseline that failed or was cut short is checked again at the next
# start: back to the queue. (Children never are; the loop makes new ones.)
RETRIED: frozenset[NodeStatus] = frozenset(
    {
        NodeStatus.BUILD_FAILED,
        NodeStatus.CHECKS_FAILED,
        NodeStatus.CRASHED,
        NodeStatus.TIMEOUT,
        NodeStatus.INTERRUPTED,
        NodeStatus.CANCELLED,
    }
)


def _allowed() -> dict[NodeStatus, frozenset[NodeStatus]]:
    table: dict[NodeStatus, set[NodeStatus]] = {s: set() for s in NodeStatus}
    measured = STEPS[2:]  # building, checking, benchmarking: here or on another host
    # A child is proposed; a baseline, a re-queued remote experiment or a
    # minimize trial starts at a measuring step.
    table[NodeStatus.QUEUED] |= {NodeStatus.PROPOSING, *measured} | ENDS
    table[NodeStatus.PROPOSING] |= {NodeStatus.APPLYING} | ENDS
    for index, step in enumerate(STEPS[1:]):
        # forwards (unconfigured steps are skipped), back to the queue (a stopped
        # baseline check, a remote host lost), or an end
        table[step] |= set(measured[index:]) - {step} | {NodeStatus.QUEUED} | ENDS
    for end in ENDS - {NodeStatus.PRUNED}:
        table[end].add(NodeStatus.PRUNED)
        table[NodeStatus.PRUNED].add(end)  # an undone prune: the end it had (engine/unprune.py)
    for end in RETRIED:
        table[end].add(NodeStatus.QUEUED)
    return {status: frozenset(targets) for status, targets in table.items()}


# status -> the statuses a node may move to from it
ALLOWED: dict[NodeStatus, frozenset[NodeStatus]] = _allowed()


class TransitionError(RuntimeError):
    """A node status write that did not (or must not) happen; the message says why."""


class IllegalTransition(TransitionError):
    """A move the state machine does not allow: a bug in the writer."""


class LostTransition(TransitionError):
    """The node was no longer in the expected status: someone else moved it first."""

    def __init__(self, node_id: str, expected: Collection[NodeStatus], found: str | None) -> None:
        self.node_id = node_id
        self.found = NodeStatus(found) if found is not None else None
        wanted = " or ".join(sorted(s.value for s in expected))
        now = "is gone" if found is None else f"is {found}"
        super().__init__(f"node {node_id} {now}, not {wanted} as expected")


def check_move(old: NodeStatus | str, new: NodeStatus) -> None:
    """Raise IllegalTransition unless the table allows old -> new."""
    old = NodeStatus(old)
    if new not in ALLOWED[old]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[old])) or "none"
        raise IllegalTransition(
            f"a node cannot go from {old.value} to {new.value} "
            f"(allowed from {old.value}: {allowed})"
        )


def new_node(**fields: Any) -> Node:
    """A node as created: always `queued` (add it to a session yourself)."""
    if fields.pop("status", NodeStatus.QUEUED) != NodeStatus.QUEUED:
        raise IllegalTransition("a node is created queued; move it on with move()")
    return Node(status=NodeStatus.QUEUED, **fields)


def move(
    session: Session,
    node: Node | str,
    new: NodeStatus,
    *,
    expected: NodeStatus | str | Collection[NodeStatus],
    **fields: Any,
) -> None:
    """Compare-and-set: `UPDATE node SET status = new, ... WHERE id = :id AND status = :expected`.

    `fields` are written in the same statement. A Node object passed in is
    brought up to date (without a second write). Raises IllegalTransition for
    a move the table forbids and LostTransition when the node is in another
    status than `expected` (or gone).
    """
    wanted = (
        {NodeStatus(expected)} if isinstance(expected, str) else {NodeStatus(s) for s in expected}
    )
    for old in wanted:
        check_move(old, new)
    if "status" in fields:
        raise IllegalTransition("pass the new status as `new`, not as a field")
    node_id = node if isinstance(node, str) else node.id
    values = {"status": new, **fields}
    result = session.execute(
        update(Node)
        .where(col(Node.id) == node_id, col(Node.status).in_([s.value for s in wanted]))
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        found = session.exec(select(Node.status).where(col(Node.id) == node_id)).first()
        if isinstance(node, Node) and found is not None:
            set_committed_value(node, "status", found)  # the caller sees what won
        raise LostTransition(node_id, wanted, found)
    if isinstance(node, Node):
        for key, value in values.items():
            set_committed_value(node, key, value)
