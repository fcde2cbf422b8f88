"""Node ids and tree queries shared by the engine, the CLI and the TUI.

Ids are dot-separated numbers: the run, then the ordinal of each change
under its parent (`1`, `1.3`, `1.3.2`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from perfsup.store.models import Artifact, Event, EventKind, Node


def child_id(parent_id: str, ordinal: int) -> str:
    return f"{parent_id}.{ordinal}"


def id_key(node_id: str) -> tuple[int, ...]:
    """Sort key that orders `1.2` before `1.10`."""
    return tuple(int(part) for part in node_id.split("."))


def is_valid_id(node_id: str) -> bool:
    parts = node_id.split(".")
    return all(part.isdigit() and int(part) > 0 for part in parts)


def next_ordinal(session: Session, parent_id: str) -> int:
    count = session.exec(
        select(func.count()).select_from(Node).where(Node.parent_id == parent_id)
    ).one()
    return int(count) + 1


def run_nodes(session: Session, run_id: int) -> list[Node]:
    """Every node of a run, in tree order."""
    nodes = session.exec(select(Node).where(Node.run_id == run_id)).all()
    return sorted(nodes, key=lambda n: id_key(n.id))


def lineage(session: Session, node: Node) -> list[Node]:
    """The nodes from the run root down to `node`, both included."""
    chain = [node]
    while chain[-1].parent_id is not None:
        parent = session.get(Node, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    return list(reversed(chain))


def children(session: Session, parent_id: str) -> Sequence[Node]:
    rows = session.exec(select(Node).where(Node.parent_id == parent_id)).all()
    return sorted(rows, key=lambda n: id_key(n.id))


def record_event(
    session: Session,
    kind: EventKind,
    message: str,
    *,
    run_id: int | None = None,
    node_id: str | None = None,
    actor: str = "engine",
) -> Event:
    event = Event(
        run_id=run_id, node_id=node_id, kind=EventKind(kind), message=message, actor=actor
    )
    session.add(event)
    return event


def record_log(session: Session, node_id: str, step: str, path: str) -> None:
    """Note where a node's `step` logs to, once (a rerun of the step keeps the row)."""
    exists = session.exec(
        select(Artifact.id).where(Artifact.node_id == node_id, Artifact.step == step)
    ).first()
    if exists is None:
        session.add(Artifact(node_id=node_id, kind="log", step=step, path=path))


def latest_events(session: Session, run_id: int, limit: int = 20) -> list[Event]:
    rows = session.exec(
        select(Event).where(Event.run_id == run_id).order_by(col(Event.id).desc()).limit(limit)
    ).all()
    return list(reversed(rows))
