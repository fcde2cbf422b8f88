"""Alembic environment for perfsup stores.

perfsup runs migrations itself when it opens a store (see
`perfsup.store.db.open_store`), passing the open connection in
`config.attributes["connection"]`. SQLite needs batch mode for ALTER TABLE.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import perfsup.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    raise RuntimeError(
        "perfsup migrations run through perfsup.store.db.open_store(), "
        "which passes an open connection"
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
