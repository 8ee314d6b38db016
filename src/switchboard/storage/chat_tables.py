"""The chat tables: threads, participants, messages, read receipts, idempotency keys.

Migration 0002 creates them. Times are epoch seconds (Float) like the other
tables; message ids and versions are epoch milliseconds drawn from the thread's
own counter, so they are unique within the thread even when two nodes write at
once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from switchboard.storage.tables import metadata

chat_threads = Table(
    "chat_threads",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("topic", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Column("last_message_at", Float, nullable=False),
    Column("last_sequence", Integer, nullable=False),
    Column("last_stamp", BigInteger, nullable=False),
)
"""One row per thread; `last_sequence` and `last_stamp` are its id counters."""

Index("ix_chat_threads_created", chat_threads.c.created_at, chat_threads.c.id)

chat_participants = Table(
    "chat_participants",
    metadata,
    Column("thread_id", String(128), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("display_name", Text, nullable=True),
    Column("share_history_at", Float, nullable=False),
    Column("added_sequence", Integer, nullable=False),
    Column("added_at", Float, nullable=False),
)
"""Current participants; a removed participant's row is deleted."""

Index("ix_chat_participants_user", chat_participants.c.user_id)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("thread_id", String(128), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("sequence_id", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("sender_id", String(128), nullable=True),
    Column("sender_display_name", Text, nullable=True),
    Column("content", Text, nullable=True),
    Column("metadata_json", Text, nullable=True),
    Column("system_json", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("edited_at", Float, nullable=True),
    Column("deleted_at", Float, nullable=True),
)
"""Messages, user and system; a deleted message keeps its row as a tombstone."""

Index(
    "ix_chat_messages_sequence",
    chat_messages.c.thread_id,
    chat_messages.c.sequence_id,
    unique=True,
)

chat_read_receipts = Table(
    "chat_read_receipts",
    metadata,
    Column("thread_id", String(128), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("message_id", BigInteger, nullable=False),
    Column("read_at", Float, nullable=False),
)
"""The newest message each participant has said it read."""

chat_idempotency = Table(
    "chat_idempotency",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("body_sha256", String(64), nullable=False),
    Column("result_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
"""`repeatability-request-id` of thread creations, with the result to replay."""
