"""call_budget: a model call's answer limit and whether its answer was cut

Revision ID: 0005_call_budget
Revises: 0004_prompt_eval
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_call_budget"
down_revision: str | None = "0004_prompt_eval"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("modelcall") as batch:
        batch.add_column(sa.Column("answer_limit", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("truncated", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("modelcall") as batch:
        batch.drop_column("truncated")
        batch.drop_column("answer_limit")
