"""The virtual phone network's tables: its handsets and their conversations.

They live in the database, not in a node's memory, so that every node and every
restart shows the same handsets and settles each delivery report once.
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

virtual_handsets = Table(
    "virtual_handsets",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("last_activity_at", Float, nullable=False),
)
"""Phones on the virtual network outside Switchboard, by E.164 number."""

virtual_messages = Table(
    "virtual_messages",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("handset", String(20), nullable=False),
    Column("peer", String(20), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("report_requested", Boolean, nullable=False, default=False),
    Column("due_at", Float, nullable=True),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("switchboard_id", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("settled_at", Float, nullable=True),
)
"""Every message to or from a handset.

`direction` is toHandset or fromHandset. A message to a handset is `pending`
until `due_at`, when it takes its drawn `outcome` (delivered, failed, expired)
and, if `report_requested`, is reported to Switchboard; `due_at` is then cleared.
"""

Index("ix_virtual_messages_handset", virtual_messages.c.handset, virtual_messages.c.seq)
Index("ix_virtual_messages_due", virtual_messages.c.due_at)
