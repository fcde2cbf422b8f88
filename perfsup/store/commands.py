"""The command queue from people (TUI, `perfsup ctl`) to the engine.

Writers append `pending` rows; the engine drains them in id order and marks
each `applied` or `rejected` with a reason the person is shown. A command is
never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from perfsup.store.models import Command, CommandKind, CommandStatus, utcnow

# The engine asks five times a second all night: one indexed lookup through
# the driver, without building ORM objects for an answer that is nearly always no.
_ANY_PENDING = f"SELECT 1 FROM {Command.__tablename__} WHERE status = ? LIMIT 1"


def enqueue_command(
    session: Session, kind: CommandKind | str, args: Mapping[str, Any] | None = None
) -> Command:
    command = Command(kind=CommandKind(kind), args_json=json.dumps(dict(args or {})))
    session.add(command)
    session.flush()
    return command


def any_pending(engine: Engine) -> bool:
    """Is a command waiting? (cheap: for polling before `pending_commands`)."""
    with engine.connect() as connection:
        row = connection.exec_driver_sql(_ANY_PENDING, (str(CommandStatus.PENDING),)).first()
    return row is not None


def pending_commands(session: Session) -> list[Command]:
    rows = session.exec(
        select(Command).where(Command.status == CommandStatus.PENDING).order_by(col(Command.id))
    ).all()
    return list(rows)


def command_args(command: Command) -> dict[str, Any]:
    loaded = json.loads(command.args_json or "{}")
    return loaded if isinstance(loaded, dict) else {}


def settle_command(command: Command, *, applied: bool, result: str) -> None:
    """Mark a command handled; `result` says what happened or why it was refused."""
    command.status = CommandStatus.APPLIED if applied else CommandStatus.REJECTED
    command.result = result
    command.handled_at = utcnow()
