"""SMS: messages sent and received, and carriers' delivery reports.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("tag", sa.Text, nullable=False, server_default=""),
        sa.Column(
            "delivery_report", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("segments", sa.Integer, nullable=False, server_default="1"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("carrier_message_id", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("status_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("repeatability_id", sa.String(64), nullable=True, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_sms_messages_due", "sms_messages", ["state", "next_attempt_at"])
    op.create_index(
        "ix_sms_messages_carrier_id",
        "sms_messages",
        ["carrier", "carrier_message_id"],
    )
    op.create_table(
        "sms_reports",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("carrier_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_sms_reports_carrier_id", "sms_reports", ["carrier", "carrier_message_id"]
    )


def downgrade() -> None:
    op.drop_table("sms_reports")
    op.drop_table("sms_messages")
