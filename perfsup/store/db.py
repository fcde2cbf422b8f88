"""Open a run store: one SQLite file in WAL mode, migrated to the newest schema.

The engine is the single writer; any number of TUIs read at the same time
(WAL readers never block the writer). Foreign keys are enforced and a busy
timeout rides out the short write locks of the other process.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

BUSY_TIMEOUT_MS = 10_000


class StoreError(RuntimeError):
    """The store file cannot be opened or migrated; the message says why."""


def migrations_dir() -> Path:
    """The Alembic scripts: inside the wheel, or at the top of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise StoreError("perfsup's migrations folder is missing from the installation")


def alembic_config(connection: Any = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The timeout first: switching the journal mode may have to wait for a lock.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    """A migrated SQLite store and the sessions opened on it."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()


def open_store(path: str | Path, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the store at `path` and bring its schema to head."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the store {path}: {exc}") from None
    if migrate:
        # One process migrates at a time (the engine and a TUI may open a new
        # store together); a brand-new store is built aside and renamed into
        # place, so a crash mid-creation never leaves a half-made file.
        with _migration_lock(path):
            if not path.exists():
                _create_fresh(path)
            else:
                _upgrade(_engine(path), path, dispose=True)
    return Store(path, _engine(path))


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _set_pragmas)
    return engine


@contextmanager
def _migration_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_fresh(path: Path) -> None:
    staging = path.with_name(f".{path.name}.new-{os.getpid()}")
    for leftover in (staging, *_sidecars(staging)):
        leftover.unlink(missing_ok=True)
    engine = _engine(staging)
    _upgrade(engine, path, dispose=True)
    # Closing the last connection checkpoints the WAL into the file and
    # removes it; the file stays in WAL mode, so no reader ever has to
    # switch the journal mode (which needs an exclusive lock).
    leftovers = [p for p in _sidecars(staging) if p.exists()]
    if leftovers:
        raise StoreError(f"cannot finish creating the store {path}: {leftovers[0]} remains")
    os.replace(staging, path)


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _upgrade(engine: Engine, path: Path, *, dispose: bool = False) -> None:
    try:
        with engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head_revision():
                return
            command.upgrade(alembic_config(connection), "head")
    except Exception as exc:  # sqlite3 and Alembic errors alike: say which file
        raise StoreError(f"cannot open or migrate the store {path}: {exc}") from exc
    finally:
        if dispose:
            engine.dispose()
