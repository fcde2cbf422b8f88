"""Which node to expand next.

Best-first: the person's priority first, then the measured gain from the run
root, deeper nodes breaking ties (a kept node's children build on it). A node
is never expanded below a pruned one, past the depth limit, past its
children limit, or after too many failures in a row among its children.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perfsup.store.models import Node, NodeStatus
from perfsup.store.tree import id_key


@dataclass(frozen=True)
class PolicyLimits:
    max_depth: int
    max_children: int
    max_failures_in_a_row: int


def cumulative_gain(node: Node, by_id: Mapping[str, Node]) -> float:
    """Relative gain of `node` over the run root, compounding kept effects on the path."""
    log_gain = 0.0
    current: Node | None = node
    while current is not None and current.parent_id is not None:
        if current.effect is not None and current.effect > -1.0:
            log_gain += math.log1p(current.effect)
        current = by_id.get(current.parent_id)
    return math.expm1(log_gain)


def failures_in_a_row(children: Sequence[Node]) -> int:
    """How many of the most recent finished children failed or were discarded."""
    count = 0
    for child in sorted(children, key=lambda n: id_key(n.id), reverse=True):
        if child.status == NodeStatus.KEPT:
            break
        if NodeStatus(child.status).finished:
            count += 1
    return count


def choose_parent(nodes: Sequence[Node], limits: PolicyLimits) -> Node | None:
    """The kept node to try a new change on, or None when the tree is exhausted."""
    by_id = {n.id: n for n in nodes}
    kids: dict[str, list[Node]] = {}
    for n in nodes:
        if n.parent_id is not None:
            kids.setdefault(n.parent_id, []).append(n)

    def blocked(node: Node) -> bool:
        current: Node | None = node
        while current is not None:
            if current.status == NodeStatus.PRUNED:
                return True
            current = by_id.get(current.parent_id) if current.parent_id else None
        return False

    candidates = [
        n
        for n in nodes
        if n.status == NodeStatus.KEPT
        and n.depth < limits.max_depth
        and len(kids.get(n.id, [])) < limits.max_children
        and failures_in_a_row(kids.get(n.id, [])) < limits.max_failures_in_a_row
        and not blocked(n)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda n: (n.priority, cumulative_gain(n, by_id), n.depth))
