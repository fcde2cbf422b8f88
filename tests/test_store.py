"""The store: migrations build exactly the tables the models describe, and the
SQLite file is opened the way two processes need it (WAL, busy timeout, FKs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from perfsup.store import Node, NodeStatus, Run, StoreError, open_store
from perfsup.store.db import head_revision
from perfsup.store.tree import child_id, id_key, lineage, next_ordinal, run_nodes


def test_migrations_match_the_models(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, SQLModel.metadata) == []
    store.close()


def test_store_pragmas(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    with store.engine.connect() as connection:
        raw = connection.exec_driver_sql
        assert raw("PRAGMA journal_mode").scalar() == "wal"
        assert raw("PRAGMA foreign_keys").scalar() == 1
        assert raw("PRAGMA busy_timeout").scalar() >= 5000
    store.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Node(id="9.1", run_id=9, parent_id="9"))
    store.close()


def _run(run_id: int = 1) -> Run:
    return Run(
        id=run_id,
        goal="g",
        config_toml="",
        repo_path="/r",
        baseline_commit="abc",
        root_node_id=str(run_id),
    )


def test_tree_ids_and_lineage(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    with store.session() as s:
        s.add(_run())
        s.flush()
        s.add(Node(id="1", run_id=1, status=NodeStatus.KEPT))
        s.flush()
        for ordinal in range(1, 12):
            assert next_ordinal(s, "1") == ordinal
            s.add(Node(id=child_id("1", ordinal), run_id=1, parent_id="1", depth=1))
            s.flush()
        s.add(Node(id="1.10.1", run_id=1, parent_id="1.10", depth=2))
    with store.session() as s:
        ids = [n.id for n in run_nodes(s, 1)]
        assert ids[:3] == ["1", "1.1", "1.2"]
        assert ids.index("1.10") > ids.index("1.9")
        assert ids.index("1.10.1") == ids.index("1.10") + 1
        leaf = s.get(Node, "1.10.1")
        assert leaf is not None
        assert [n.id for n in lineage(s, leaf)] == ["1", "1.10", "1.10.1"]
    assert id_key("5.1.23") == (5, 1, 23)
    store.close()


def test_store_reopens_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    with store.session() as s:
        s.add(_run())
    store.close()
    again = open_store(path)
    with again.session() as s:
        assert s.exec(select(Run)).one().goal == "g"
    again.close()


def test_garbage_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open or migrate the store"):
        open_store(path)
    # nothing overwritten
    assert path.read_bytes().startswith(b"this is not a database")
    sqlite3.connect(":memory:").close()


def test_upgrade_keeps_rows_written_by_an_older_schema(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from perfsup.store.db import alembic_config

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.exec_driver_sql(
            "INSERT INTO run (id, created_at, status, goal, config_toml, repo_path, "
            "baseline_commit, root_node_id, tokens_used) "
            "VALUES (1, '2026-01-01 00:00:00', 'finished', 'old goal', '', '/r', 'abc', '1', 7)"
        )
    engine.dispose()
    store = open_store(path)
    with store.session() as s:
        run = s.exec(select(Run)).one()
        assert (run.goal, run.tokens_used, run.engine_state) == ("old goal", 7, "stopped")
    store.close()


def test_command_queue_round_trip(tmp_path: Path) -> None:
    from perfsup.store.commands import (
        command_args,
        enqueue_command,
        pending_commands,
        settle_command,
    )

    store = open_store(tmp_path / "s.db")
    with store.session() as s:
        enqueue_command(s, "prune", {"node": "1.3"})
        enqueue_command(s, "pause")
    with store.session() as s:
        first, _second = pending_commands(s)
        assert (first.kind, command_args(first)) == ("prune", {"node": "1.3"})
        settle_command(first, applied=False, result="no node 1.3")
    with store.session() as s:
        assert [c.kind for c in pending_commands(s)] == ["pause"]
    with pytest.raises(ValueError):
        enqueue_command(s, "dance")
    store.close()


def test_several_processes_open_a_new_store_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.db"
    code = (
        "import sys; from perfsup.store import open_store; "
        "s = open_store(sys.argv[1]); s.close(); print('ok')"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=120)[0].strip() for child in children]
    assert outputs == ["ok"] * 4
    assert [child.returncode for child in children] == [0] * 4
    store = open_store(path)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()
    assert not list(tmp_path.glob(".shared.db.new-*"))
