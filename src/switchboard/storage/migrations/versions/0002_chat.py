"""Chat: threads, participants, messages, read receipts, idempotency keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float, nullable=True),
        sa.Column("last_message_at", sa.Float, nullable=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("last_stamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_chat_threads_created", "chat_threads", ["created_at", "id"])
    op.create_table(
        "chat_participants",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("share_history_at", sa.Float, nullable=False),
        sa.Column("added_sequence", sa.Integer, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
    )
    op.create_index("ix_chat_participants_user", "chat_participants", ["user_id"])
    op.create_table(
        "chat_messages",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sequence_id", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("sender_display_name", sa.Text, nullable=True),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("metadata_json", sa.Text, nullable=True),
        sa.Column("system_json", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("edited_at", sa.Float, nullable=True),
        sa.Column("deleted_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_chat_messages_sequence",
        "chat_messages",
        ["thread_id", "sequence_id"],
        unique=True,
    )
    op.create_table(
        "chat_read_receipts",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("read_at", sa.Float, nullable=False),
    )
    op.create_table(
        "chat_idempotency",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_idempotency")
    op.drop_table("chat_read_receipts")
    op.drop_index("ix_chat_messages_sequence", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chat_participants_user", table_name="chat_participants")
    op.drop_table("chat_participants")
    op.drop_index("ix_chat_threads_created", table_name="chat_threads")
    op.drop_table("chat_threads")
