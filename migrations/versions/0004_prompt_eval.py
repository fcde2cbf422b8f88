"""prompt_eval: time a model call spent reading its prompt

Revision ID: 0004_prompt_eval
Revises: 0003_measurement
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_prompt_eval"
down_revision: str | None = "0003_measurement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("modelcall") as batch:
        batch.add_column(sa.Column("prompt_eval_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("modelcall") as batch:
        batch.drop_column("prompt_eval_s")
