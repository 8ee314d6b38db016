"""Calls: the call records, their participants and where each call's media room lives.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("video", sa.Boolean, nullable=False),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("room_id", sa.String(128), nullable=True),
        sa.Column("active_key", sa.String(200), nullable=True, unique=True),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("media_server", sa.String(128), nullable=True),
        sa.Column("media_room", sa.BigInteger, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_calls_group", "calls", ["group_id"])
    op.create_index("ix_calls_room", "calls", ["room_id"])
    op.create_index("ix_calls_media_server", "calls", ["media_server", "state"])
    op.create_table(
        "call_participants",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("muted", sa.Boolean, nullable=False),
        sa.Column("video", sa.Boolean, nullable=False),
        sa.Column("screen_sharing", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("joined_at", sa.Float, nullable=True),
        sa.Column("left_at", sa.Float, nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("session", sa.Integer, nullable=False),
    )
    op.create_index("ix_call_participants_user", "call_participants", ["user_id"])
    op.create_table(
        "call_streams",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("feed_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_streams")
    op.drop_table("call_participants")
    op.drop_table("calls")
