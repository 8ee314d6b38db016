"""Rooms: the rooms of the Rooms API and their participants.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(20), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("valid_until", sa.Float, nullable=False),
        sa.Column("pstn_dial_out_enabled", sa.Boolean, nullable=False),
    )
    op.create_table(
        "room_participants",
        sa.Column("room_id", sa.String(20), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_index("ix_room_participants_user", "room_participants", ["user_id"])
    op.create_table(
        "room_requests",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(20), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("valid_until", sa.Float, nullable=False),
        sa.Column("pstn_dial_out_enabled", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("room_requests")
    op.drop_index("ix_room_participants_user", table_name="room_participants")
    op.drop_table("room_participants")
    op.drop_table("rooms")
