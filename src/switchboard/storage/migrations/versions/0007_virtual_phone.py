"""The virtual phone network: handsets and their conversations.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "virtual_handsets",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_activity_at", sa.Float, nullable=False),
    )
    op.create_table(
        "virtual_messages",
        sa.Column("seq", _ID, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("handset", sa.String(20), nullable=False),
        sa.Column("peer", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column(
            "report_requested", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("due_at", sa.Float, nullable=True),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("switchboard_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("settled_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_virtual_messages_handset", "virtual_messages", ["handset", "seq"]
    )
    op.create_index("ix_virtual_messages_due", "virtual_messages", ["due_at"])


def downgrade() -> None:
    op.drop_table("virtual_messages")
    op.drop_table("virtual_handsets")
