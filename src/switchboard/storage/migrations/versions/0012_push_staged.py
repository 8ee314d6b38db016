"""Push: pushes staged in the transaction of the change that causes them.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "push_staged",
        sa.Column("source", sa.String(256), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
    )
    op.create_index("ix_push_staged_due", "push_staged", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_push_staged_due", table_name="push_staged")
    op.drop_table("push_staged")
