"""engine state on runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:10:36.853180
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "engine_state",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="stopped",
            )
        )
        batch_op.add_column(
            sa.Column(
                "engine_detail",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("engine_pid", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("engine_pid")
        batch_op.drop_column("engine_detail")
        batch_op.drop_column("engine_state")
