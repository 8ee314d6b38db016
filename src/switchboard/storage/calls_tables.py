"""The calls tables: calls, their participants and the media streams they publish.

Migration 0008 creates them. Times are epoch seconds (Float) like the other
tables. A call's row is kept after it ends: it is the user's call history.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from switchboard.storage.tables import metadata

calls = Table(
    "calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("subject", Text, nullable=False),
    Column("video", Boolean, nullable=False),
    Column("group_id", String(64), nullable=True),
    Column("room_id", String(128), nullable=True),
    Column("active_key", String(200), nullable=True, unique=True),
    Column("answered_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("end_reason", String(32), nullable=True),
    Column("media_server", String(128), nullable=True),
    Column("media_room", BigInteger, nullable=True),
    Column("version", Integer, nullable=False),
)
"""One row per call; `active_key` (`group:<id>`, `room:<id>`) is set while a group
or room call is under way, so that a group or a room has one call at a time.
`version` is bumped by every change, which also takes the row's write lock."""

Index("ix_calls_group", calls.c.group_id)
Index("ix_calls_room", calls.c.room_id)
Index("ix_calls_media_server", calls.c.media_server, calls.c.state)

call_participants = Table(
    "call_participants",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("muted", Boolean, nullable=False),
    Column("video", Boolean, nullable=False),
    Column("screen_sharing", Boolean, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("joined_at", Float, nullable=True),
    Column("left_at", Float, nullable=True),
    Column("reason", String(32), nullable=True),
    Column("session", Integer, nullable=False),
)
"""Everyone who was invited to or joined a call; kept after they leave.
`session` counts the participant's joins, so that a leave planned for a lost
connection is dropped when the participant has joined again meanwhile."""

Index("ix_call_participants_user", call_participants.c.user_id)

call_streams = Table(
    "call_streams",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("feed_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
)
"""The publications of a call now on its media server; a stream's row goes with it."""
