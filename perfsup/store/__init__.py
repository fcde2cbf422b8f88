"""The run store: SQLModel tables in one SQLite file, migrated by Alembic."""

from perfsup.store.db import Store, StoreError, open_store
from perfsup.store.models import (
    Artifact,
    Calibration,
    Command,
    CommandStatus,
    EngineState,
    Event,
    EventKind,
    ModelCall,
    Node,
    NodeStatus,
    Run,
    RunStatus,
    Sample,
)

__all__ = [
    "Artifact",
    "Calibration",
    "Command",
    "CommandStatus",
    "EngineState",
    "Event",
    "EventKind",
    "ModelCall",
    "Node",
    "NodeStatus",
    "Run",
    "RunStatus",
    "Sample",
    "Store",
    "StoreError",
    "open_store",
]
