"""The node state machine: the table, the compare-and-set, no write that bypasses
it, and the prune race it closes (on a real engine, store, git and bench)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.store import ModelCall, Node, NodeStatus, Run, Sample, open_store
from perfsup.store.commands import enqueue_command
from perfsup.store.models import Command, CommandKind, CommandStatus
from perfsup.store.transitions import (
    ALLOWED,
    ENDS,
    IllegalTransition,
    LostTransition,
    move,
    new_node,
)
from tests.helpers import bench_sh_config, build_engine, make_repo, wait_until

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "perfsup"
TRANSITIONS = PACKAGE / "store" / "transitions.py"


# ------------------------------------------------------------ compare-and-set
@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(tmp_path / "perfsup.db")
    with store.session() as s:
        s.add(
            Run(
                id=1, goal="g", config_toml="", repo_path=".", baseline_commit="0", root_node_id="1"
            )
        )
        s.flush()
        s.add(new_node(id="1", run_id=1))
        s.flush()
        s.add(new_node(id="1.1", run_id=1, parent_id="1", ordinal=1, depth=1))
    yield store
    store.close()


def status_of(store, node_id: str) -> str:  # type: ignore[no-untyped-def]
    with store.session() as s:
        node = s.get(Node, node_id)
        assert node is not None
        return node.status


def test_a_move_from_the_expected_status_is_written_with_its_fields(store) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        move(s, "1.1", NodeStatus.PROPOSING, expected=NodeStatus.QUEUED, description="x")
    with store.session() as s:
        node = s.get(Node, "1.1")
        assert node is not None and node.status == "proposing" and node.description == "x"


def test_a_move_that_lost_the_race_raises_and_writes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        move(s, "1.1", NodeStatus.PRUNED, expected=NodeStatus.QUEUED, reason="pruned")
    with (
        pytest.raises(LostTransition, match=r"node 1\.1 is pruned, not queued as expected"),
        store.session() as s,
    ):
        move(s, "1.1", NodeStatus.PROPOSING, expected=NodeStatus.QUEUED)
    assert status_of(store, "1.1") == "pruned"


def test_an_illegal_move_raises_with_a_clear_message(store) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        move(s, "1.1", NodeStatus.KEPT, expected=NodeStatus.QUEUED)
    with (
        pytest.raises(IllegalTransition, match="cannot go from kept to proposing"),
        store.session() as s,
    ):
        move(s, "1.1", NodeStatus.PROPOSING, expected=NodeStatus.KEPT)
    with (
        pytest.raises(IllegalTransition, match="cannot go from pruned to proposing"),
        store.session() as s,
    ):
        move(s, "1.1", NodeStatus.PROPOSING, expected=NodeStatus.PRUNED)
    assert status_of(store, "1.1") == "kept"


def test_a_node_is_always_created_queued() -> None:
    with pytest.raises(IllegalTransition, match="created queued"):
        new_node(id="1.2", run_id=1, status=NodeStatus.KEPT)


def test_the_table_covers_every_status_and_pruned_only_goes_back_to_an_end() -> None:
    assert set(ALLOWED) == set(NodeStatus)
    # an undone prune gives the node back the end it had; it never runs again
    assert ALLOWED[NodeStatus.PRUNED] == ENDS - {NodeStatus.PRUNED}
    assert NodeStatus.PROPOSING in ALLOWED[NodeStatus.QUEUED]
    assert NodeStatus.PROPOSING not in ALLOWED[NodeStatus.BENCHMARKING]  # never backwards


# ---------------------------------------------------------- no direct writes
def direct_status_writes(source: str, filename: str = "<source>") -> list[str]:
    """Places that write a node status without store/transitions.py.

    Flags `x.status = ...` (but `self.status` of an exception and run or command
    statuses), `setattr(x, "status", ...)`, a `status=` keyword to `Node(...)`,
    `.values(...)`, `update(...)`, a `_set(...)` helper or with a NodeStatus
    value, and a dict literal with a "status" key holding a NodeStatus.
    """
    found: list[str] = []

    def other_kind(value: ast.AST) -> bool:
        text = ast.unparse(value)
        return text.startswith(("RunStatus.", "CommandStatus.")) or "RunStatus" in text

    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    owner = ast.unparse(target.value)
                    if owner == "self" or (node.value is not None and other_kind(node.value)):
                        continue
                    if owner in {"run", "command"}:
                        continue
                    found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            args = node.args
            if func == "setattr" and len(args) > 1 and ast.unparse(args[1]) == "'status'":
                found.append(f"{where}: {ast.unparse(node)}")
            for keyword in node.keywords:
                if keyword.arg != "status":
                    continue
                setter = func.endswith(("Node", ".values", "_set", "update"))
                named = setter or "NodeStatus" in ast.unparse(keyword.value)
                if named and not other_kind(keyword.value):
                    found.append(f"{where}: {ast.unparse(node)[:120]}")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                text = ast.unparse(value)
                if (
                    key is not None
                    and ast.unparse(key) == "'status'"
                    and ("NodeStatus" in text or text == "status")
                ):
                    found.append(f"{where}: {ast.unparse(node)[:120]}")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "node.status = NodeStatus.PRUNED",
        "other.status = 'kept'",
        "setattr(stored, 'status', value)",
        "s.add(Node(id='1', run_id=1, status=NodeStatus.QUEUED))",
        "self._set(node, status=NodeStatus.APPLYING)",
        "_set(store, node, status=running)",
        "session.execute(update(Node).values(status='kept'))",
        "fields = {'status': status, 'reason': reason}",
    ],
)
def test_the_scan_finds_a_direct_write(snippet: str) -> None:
    assert direct_status_writes(snippet)


def test_every_status_write_goes_through_the_transitions_module() -> None:
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == TRANSITIONS:
            continue
        found += direct_status_writes(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "status writes outside store/transitions.py:\n" + "\n".join(found)


# --------------------------------------------------------------- the race
APP = "def work(n):\n    return sum(range(n))\n"
CHANGE = (
    "DESCRIPTION: return the closed form\nsrc/app.py\n<<<<<<< SEARCH\n"
    "    return sum(range(n))\n=======\n    return n * (n - 1) // 2\n>>>>>>> REPLACE\n"
)


def test_a_child_pruned_before_its_proposal_stays_pruned_and_is_never_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": "echo 'METRIC t=1'\n"})
    (tmp_path / "answers.toml").write_text(f"[[answer]]\ntext = '''\n{CHANGE}'''\n")
    config = tmp_path / "perfsup.toml"
    config.write_text(bench_sh_config(tables="[decision]\nmax_load_per_core = 0\n"))
    engine = build_engine(config, tmp_path / "run")
    created = engine.recorder.add_child
    pruned: list[str] = []

    def create_then_prune(run_id: int, parent: Node) -> Node:
        """A person prunes the new child right after it is created, before its proposal."""
        node = created(run_id, parent)
        if not pruned:
            with engine.store.session() as s:
                command_id = enqueue_command(s, CommandKind.PRUNE, {"node": node.id}).id

            def applied() -> bool:
                with engine.store.session() as s:
                    command = s.get(Command, command_id)
                    return command is not None and command.status != CommandStatus.PENDING

            wait_until(applied, what="the engine's command thread applies the prune")
            pruned.append(node.id)
        return node

    monkeypatch.setattr(engine.recorder, "add_child", create_then_prune)
    engine.run()

    assert pruned == ["1.1"]
    with engine.store.session() as s:
        child = s.get(Node, "1.1")
        assert child is not None
        assert child.status == NodeStatus.PRUNED, child.reason
        assert not s.exec(select(Sample).where(Sample.node_id == "1.1")).all()
        assert not s.exec(select(ModelCall).where(ModelCall.node_id == "1.1")).all()
        other = s.get(Node, "1.2")  # the run went on with the next child
        assert other is not None and other.status in {NodeStatus.KEPT, NodeStatus.DISCARDED}
