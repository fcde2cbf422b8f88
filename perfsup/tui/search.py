"""The tree's search (`/`): the nodes of a run whose id, status, description or
reason contains the text, as one flat list under the run's root."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import col, select

from perfsup.store import Node
from perfsup.tui.rows import NodeRow
from perfsup.tui.service import RunService

MATCHES = 500  # a search shows at most this many nodes (the store keeps them all)


def search_rows(service: RunService, root_id: str, text: str) -> list[NodeRow]:
    """The run's nodes matching `text` (case-insensitive), the root left out."""
    needle = text.strip()
    with service.store.session() as s:
        root = s.get(Node, root_id)
        if root is None or root.parent_id is not None or not needle:
            return []
        like = f"%{needle.replace('%', '').replace('_', ' ').strip()}%"
        query = (
            select(Node)
            .where(
                Node.run_id == root.run_id,
                col(Node.parent_id).is_not(None),
                or_(
                    col(Node.id).startswith(needle),
                    col(Node.status).ilike(like.replace(" ", "_")),
                    col(Node.description).ilike(like),
                    col(Node.reason).ilike(like),
                ),
            )
            .limit(MATCHES)
        )
        return service._rows(s, list(s.exec(query).all()), leaves=True)
