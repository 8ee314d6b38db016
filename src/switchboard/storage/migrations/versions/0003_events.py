"""Events: webhook subscriptions, the outbox and deliveries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_subscriptions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("target_url", sa.Text, nullable=False),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("subject_prefix", sa.Text, nullable=False, server_default=""),
        sa.Column("envelope", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("max_age_s", sa.Float, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("state_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("validate_after", sa.Float, nullable=False, server_default="0"),
        sa.Column(
            "validation_attempts", sa.Integer, nullable=False, server_default="0"
        ),
        sa.Column("validation_code", sa.String(64), nullable=False, server_default=""),
    )
    op.create_table(
        "event_outbox",
        sa.Column("seq", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
        sa.Column("expanded", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_event_outbox_pending", "event_outbox", ["expanded", "seq"])
    op.create_table(
        "event_deliveries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subscription", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    )
    op.create_index(
        "ix_event_deliveries_due", "event_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index(
        "ix_event_deliveries_order",
        "event_deliveries",
        ["subscription", "subject", "state", "event_seq"],
    )


def downgrade() -> None:
    op.drop_table("event_deliveries")
    op.drop_table("event_outbox")
    op.drop_table("event_subscriptions")
