"""Push: device registrations and the push delivery outbox.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_registrations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("app_id", sa.String(256), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("token_key", sa.String(64), nullable=False),
        sa.Column("p256dh", sa.String(128), nullable=True),
        sa.Column("auth", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "platform", "token_key", name="uq_push_registrations_device"
        ),
    )
    op.create_index("ix_push_registrations_user", "push_registrations", ["user_id"])
    op.create_table(
        "push_deliveries",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("collapse_key", sa.String(128), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_push_deliveries_due", "push_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index(
        "ix_push_deliveries_registration",
        "push_deliveries",
        ["registration_id", "collapse_key"],
    )
    op.create_table(
        "push_keys",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("push_keys")
    op.drop_table("push_deliveries")
    op.drop_table("push_registrations")
