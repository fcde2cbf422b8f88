"""The tree policy on hand-made trees: which node is grown next."""

from __future__ import annotations

import random

from perfsup.engine.policy import PolicyLimits, choose_parent, failures_in_a_row
from perfsup.store import Node

LIMITS = PolicyLimits(max_depth=3, max_children=3, max_failures_in_a_row=2)


def node(
    node_id: str, status: str = "kept", effect: float | None = None, priority: int = 0
) -> Node:
    parts = node_id.split(".")
    return Node(
        id=node_id,
        run_id=1,
        parent_id=".".join(parts[:-1]) or None,
        depth=len(parts) - 1,
        status=status,
        effect=effect,
        priority=priority,
    )


def test_best_measured_gain_first_and_children_build_on_kept_nodes() -> None:
    tree = [node("1"), node("1.1", effect=0.10), node("1.2", effect=0.30), node("1.3", "discarded")]
    assert choose_parent(tree, LIMITS).id == "1.2"  # type: ignore[union-attr]
    tree.append(node("1.2.1", effect=0.10))  # compounding: 1.3 * 1.1 beats 1.3
    assert choose_parent(tree, LIMITS).id == "1.2.1"  # type: ignore[union-attr]


def test_the_persons_priority_outranks_gain() -> None:
    tree = [node("1", priority=1), node("1.1", effect=0.50)]
    assert choose_parent(tree, LIMITS).id == "1"  # type: ignore[union-attr]


def test_failures_in_a_row_turn_the_search_elsewhere() -> None:
    tree = [node("1"), node("1.1", effect=0.2), node("1.1.1", "checks_failed")]
    assert choose_parent(tree, LIMITS).id == "1.1"  # type: ignore[union-attr]
    tree.append(node("1.1.2", "discarded"))
    assert failures_in_a_row([n for n in tree if n.parent_id == "1.1"]) == 2
    assert choose_parent(tree, LIMITS).id == "1"  # type: ignore[union-attr]


def test_interrupted_and_cancelled_children_are_not_failures_nor_count() -> None:
    tree = [
        node("1"),
        node("1.1", "interrupted"),
        node("1.2", "cancelled"),
        node("1.3", "interrupted"),
    ]
    assert choose_parent(tree, LIMITS).id == "1"  # type: ignore[union-attr]


def test_depth_children_and_pruned_limits() -> None:
    tree = [
        node("1"),
        node("1.1", effect=0.1),
        node("1.1.1", effect=0.1),
        node("1.1.1.1", effect=0.1),
    ]
    # 1.1.1.1 is at the depth limit; 1.1.1 is the best below it
    assert choose_parent(tree, LIMITS).id == "1.1.1"  # type: ignore[union-attr]
    tree[2] = node("1.1.1", "pruned", effect=0.1)
    assert choose_parent(tree, LIMITS).id == "1.1"  # type: ignore[union-attr]
    full = (
        [node("1")] + [node(f"1.{i}", "discarded") for i in (1, 3)] + [node("1.2", "build_failed")]
    )
    assert choose_parent(full, PolicyLimits(3, 3, 10)) is None


def test_a_share_of_choices_explores() -> None:
    tree = [node("1"), node("1.1", effect=0.5), node("1.2", effect=0.1)]
    limits = PolicyLimits(max_depth=3, max_children=8, max_failures_in_a_row=4, explore=0.5)
    rng = random.Random(3)
    picks = [choose_parent(tree, limits, rng).id for _ in range(400)]  # type: ignore[union-attr]
    best = picks.count("1.1") / len(picks)
    assert 0.6 < best < 0.75  # 50% best + a third of the random half
    assert {"1", "1.2"} <= set(picks)
    assert {choose_parent(tree, LIMITS, rng).id for _ in range(50)} == {"1.1"}  # type: ignore[union-attr]
