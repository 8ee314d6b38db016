"""SMS: the parts of long incoming messages, kept until each message is complete.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "sms_inbound_parts",
        sa.Column("carrier", sa.String(64), primary_key=True),
        sa.Column("sender", sa.String(32), primary_key=True),
        sa.Column("recipient", sa.String(32), primary_key=True),
        sa.Column("reference", sa.Integer, primary_key=True),
        sa.Column("total", sa.Integer, primary_key=True),
        sa.Column("sequence", sa.Integer, primary_key=True),
        sa.Column("data_coding", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_sms_inbound_parts_received", "sms_inbound_parts", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sms_inbound_parts_received", table_name="sms_inbound_parts")
    op.drop_table("sms_inbound_parts")
