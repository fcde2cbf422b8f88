"""A resumed run goes on where it was: answers already spent are not replayed.

Only the scripted backend has a position to restore (a real model has no
memory of earlier calls). Every successful call it made is in the store, one
`ModelCall` row per answer consumed (retries included), so their count is the
number of answers used, whichever engine process made them.
"""

from __future__ import annotations

from sqlmodel import col, func, select

from perfsup.agent.backend import ModelBackend
from perfsup.agent.scripted import ScriptedBackend
from perfsup.store import ModelCall, Store


def resume_script(backend: ModelBackend, store: Store) -> int:
    """Move a scripted backend past the answers the store says were used; that count."""
    if not isinstance(backend, ScriptedBackend):
        return 0
    with store.session() as s:
        used = s.exec(
            select(func.count(col(ModelCall.id))).where(
                ModelCall.model == backend.name, col(ModelCall.ok).is_(True)
            )
        ).one()
    backend.resume_after(int(used))
    return int(used)
