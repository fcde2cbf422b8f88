"""Undo a person's prune: the pruned node gets back the end it had, and new
experiments may grow below it again.

A prune writes what it replaced into the node's reason (`pruned_reason`);
the undo reads it back from there. An experiment the prune cut short (in
flight or queued below the node) cannot be taken back: it ends `cancelled`.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from perfsup.store import Node, NodeStatus
from perfsup.store.commands import command_args
from perfsup.store.models import Command, CommandKind, CommandStatus
from perfsup.store.transitions import LostTransition, move

PRUNED_BY = "pruned by a person"
_WAS = re.compile(re.escape(PRUNED_BY) + r"; was (?P<status>[a-z_]+)(?:: (?P<reason>.*))?\Z", re.S)


class UndoRefused(ValueError):
    """Nothing to undo, or the node moved meanwhile; the message says why."""


def pruned_reason(status: str, reason: str | None) -> str:
    """The reason of a finished node a person pruned: what it was, for the undo."""
    return f"{PRUNED_BY}; was {status}" + (f": {reason}" if reason else "")


def cut_short_reason(node_id: str) -> str:
    """The reason of an experiment below (or at) `node_id` that its prune ended."""
    return f"pruned with {node_id} by a person"


def last_pruned(s: Session) -> str | None:
    """The node of the newest applied prune that is still pruned, or None."""
    prunes = s.exec(
        select(Command)
        .where(Command.kind == CommandKind.PRUNE, Command.status == CommandStatus.APPLIED)
        .order_by(col(Command.id).desc())
    ).all()
    for command in prunes:
        node = s.get(Node, str(command_args(command).get("node") or ""))
        if node is not None and node.status == NodeStatus.PRUNED:
            return node.id
    return None


def undo_prune(s: Session, node_id: str | None) -> str:
    """Undo the prune of `node_id` (default: the last prune); say what came back."""
    node_id = node_id or last_pruned(s)
    if node_id is None:
        raise UndoRefused("no prune to undo")
    node = s.get(Node, node_id)
    if node is None or node.status != NodeStatus.PRUNED:
        found = "does not exist" if node is None else f"is {node.status}"
        raise UndoRefused(f"{node_id} {found}, not pruned: nothing to undo")
    cut = cut_short_reason(node.id)
    was = _WAS.match(node.reason or "")
    if was is None and node.reason != cut:
        raise UndoRefused(f"{node.id} was not pruned by a person ({node.reason}): nothing to undo")
    cancelled = s.exec(
        select(Node).where(
            col(Node.id).startswith(node.id + "."),
            Node.status == NodeStatus.PRUNED,
            Node.reason == cut,
        )
    ).all()
    undone = f"the prune of {node.id} was undone"
    try:
        for other in cancelled:
            move(s, other, NodeStatus.CANCELLED, expected=NodeStatus.PRUNED, reason=undone)
        if was is None:  # it was in flight: its experiment stays cut short
            move(s, node, NodeStatus.CANCELLED, expected=NodeStatus.PRUNED, reason=undone)
            status = NodeStatus.CANCELLED
        else:
            status = NodeStatus(was["status"])
            move(s, node, status, expected=NodeStatus.PRUNED, reason=was["reason"])
    except LostTransition as exc:
        raise UndoRefused(f"{exc}; try again") from None
    more = f"; {len(cancelled)} experiment(s) it cut short stay cancelled" if cancelled else ""
    return f"prune of {node.id} undone: it is {status} again and may grow new experiments{more}"
