"""The rooms tables: rooms, their participants and the create requests seen.

A room row is the room; deleting a room deletes its row and its participants'
rows in one transaction. `seq` orders the rooms for listing, newest first, and
never repeats, so a continuation token that names one stays valid while rooms
are created and deleted around it.
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
)

from switchboard.storage.tables import metadata

_SEQ = BigInteger().with_variant(Integer, "sqlite")

rooms = Table(
    "rooms",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("id", String(20), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("valid_from", Float, nullable=False),
    Column("valid_until", Float, nullable=False),
    Column("pstn_dial_out_enabled", Boolean, nullable=False),
)
"""One row per live room; `id` is the decimal room id of the wire."""

room_participants = Table(
    "room_participants",
    metadata,
    Column("room_id", String(20), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_room_participants_user", "user_id"),
)
"""Who may join which room, in which role."""

room_requests = Table(
    "room_requests",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("body_hash", String(64), nullable=False),
    Column("room_id", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("valid_from", Float, nullable=False),
    Column("valid_until", Float, nullable=False),
    Column("pstn_dial_out_enabled", Boolean, nullable=False),
)
"""Each `Repeatability-Request-ID` a create carried and the room it made, as made."""
