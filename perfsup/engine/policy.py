"""Which node to expand next.

Best-first: the person's priority first, then the measured gain from the run
root, deeper nodes breaking ties (a kept node's children build on it). A
configured share of choices explores instead: a random eligible node. A node
is never expanded below a pruned one, past the depth limit, past its
children limit, or after too many failures in a row among its children (then
the policy turns elsewhere). Experiments that never got to test their idea
(interrupted by a crash, cancelled or pruned by a person) count neither as
failures nor towards the children limit, and neither do failures on the
model's side (no usable answer): only the target's failures (build, check,
bench) close a node, and the end of a night names them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from perfsup.store.db import Store
from perfsup.store.models import Node, NodeStatus
from perfsup.store.tree import id_key


@dataclass(frozen=True)
class PolicyLimits:
    max_depth: int
    max_children: int
    max_failures_in_a_row: int
    explore: float = 0.0  # share of choices that pick a random eligible node


# Ended by a crash or a person, not by what the change did.
NOT_TRIED = frozenset({NodeStatus.INTERRUPTED, NodeStatus.CANCELLED, NodeStatus.PRUNED})
# Ended by the model's answer (none usable), before the target ran anything.
MODEL_SIDE = frozenset({NodeStatus.MALFORMED})
MODEL_CALLS_FAILED = "every model call failed"  # the start of a crashed proposal's reason


def model_side(node: Node) -> bool:
    """Whether `node` failed on the model's side (no usable answer), not the target's."""
    if node.status in MODEL_SIDE:
        return True
    return node.status == NodeStatus.CRASHED and (node.reason or "").startswith(MODEL_CALLS_FAILED)


def tried(children: Sequence[Node]) -> list[Node]:
    """The children that really tested their idea (or are testing it now).

    A model-side failure tested nothing on the target: it counts neither
    towards the children limit nor the failures in a row (the next proposal
    is asked differently instead, see `engine/proposer.py`).
    """
    return [c for c in children if c.status not in NOT_TRIED and not model_side(c)]


def model_failures_in_a_row(children: Sequence[Node]) -> int:
    """How many of the most recent finished children failed on the model's side."""
    count = 0
    finished = [c for c in children if c.status not in NOT_TRIED and NodeStatus(c.status).finished]
    for child in sorted(finished, key=lambda n: id_key(n.id), reverse=True):
        if not model_side(child):
            break
        count += 1
    return count


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
    for child in sorted(tried(children), key=lambda n: id_key(n.id), reverse=True):
        if child.status == NodeStatus.KEPT:
            break
        if NodeStatus(child.status).finished:
            count += 1
    return count


def _candidates(
    nodes: Sequence[Node], limits: PolicyLimits
) -> tuple[list[Node], dict[str, list[Node]]]:
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
        and len(tried(kids.get(n.id, []))) < limits.max_children
        and failures_in_a_row(kids.get(n.id, [])) < limits.max_failures_in_a_row
        and not blocked(n)
    ]
    if not candidates:
        # Failed children close a node so the search turns elsewhere; when nothing
        # else is open they must not end the night: the baseline passed its build and
        # checks, so the failures were the model's changes (decision 0182).
        root = next((n for n in nodes if n.parent_id is None), None)
        if root is not None and root.status == NodeStatus.KEPT and not blocked(root):
            children = kids.get(root.id, [])
            if (
                failures_in_a_row(children) >= limits.max_failures_in_a_row
                and len(tried(children)) < limits.max_children  # a limit the person set
                and root.depth < limits.max_depth
            ):
                candidates = [root]
    return candidates, kids


def exhausted_reason(nodes: Sequence[Node], limits: PolicyLimits) -> str:
    """Why no node is left to expand, naming the failures that closed each kept node."""
    _, kids = _candidates(nodes, limits)
    closed: list[str] = []
    for node in sorted(
        (n for n in nodes if n.status == NodeStatus.KEPT), key=lambda n: id_key(n.id)
    ):
        children = kids.get(node.id, [])
        streak = failures_in_a_row(children)
        if streak >= limits.max_failures_in_a_row:
            recent = sorted(tried(children), key=lambda n: id_key(n.id))[-streak:]
            named = "; ".join(f"{c.id} {c.status}: {(c.reason or '')[:120]}" for c in recent)
            closed.append(f"{node.id} after {streak} failures in a row ({named})")
        elif len(tried(children)) >= limits.max_children:
            closed.append(f"{node.id} at its {limits.max_children} children")
        elif node.depth >= limits.max_depth:
            closed.append(f"{node.id} at the depth limit")
    detail = "; ".join(closed) if closed else "limits on depth, children and failures in a row"
    return f"no node left to expand: {detail}"


def choose_parent(
    nodes: Sequence[Node], limits: PolicyLimits, rng: random.Random | None = None
) -> Node | None:
    """The kept node to try a new change on, or None when the tree is exhausted."""
    by_id = {n.id: n for n in nodes}
    candidates, _ = _candidates(nodes, limits)
    if not candidates:
        return None
    if rng is not None and limits.explore > 0 and rng.random() < limits.explore:
        return rng.choice(sorted(candidates, key=lambda n: id_key(n.id)))
    return max(candidates, key=lambda n: (n.priority, cumulative_gain(n, by_id), n.depth))


def find_twin(store: Store, node: Node) -> str | None:
    """The id of an earlier node with the same diff as `node`, or None.

    A twin that never tested its idea (interrupted, cancelled, pruned) does
    not count: the same change may then be tried again.
    """
    if node.diff_hash is None:
        return None
    with store.session() as s:
        twin = s.exec(
            select(Node.id)
            .where(
                Node.diff_hash == node.diff_hash,
                Node.id != node.id,
                col(Node.status).not_in([s.value for s in NOT_TRIED]),
            )
            .order_by(col(Node.created_at))
        ).first()
    return twin
