"""The SMS tables: every message sent or received, and carriers' delivery reports.

An outbound message's row is also its place in the send queue: the sender on
each node claims `queued` rows under a lease, so a message accepted before a
crash is still sent after it.
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

sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("direction", String(8), nullable=False),
    Column("sender", String(20), nullable=False),
    Column("recipient", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("tag", Text, nullable=False, default=""),
    Column("delivery_report", Boolean, nullable=False, default=False),
    Column("segments", Integer, nullable=False, default=1),
    Column("state", String(16), nullable=False),
    Column("carrier", String(64), nullable=False),
    Column("carrier_message_id", String(128), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("submitted_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("status_detail", Text, nullable=False, default=""),
    Column("repeatability_id", String(64), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=True),
)
"""Messages; `direction` is out or in, `state` one of `sms.store.OutboundState`."""

Index("ix_sms_messages_due", sms_messages.c.state, sms_messages.c.next_attempt_at)
Index(
    "ix_sms_messages_carrier_id",
    sms_messages.c.carrier,
    sms_messages.c.carrier_message_id,
)

sms_reports = Table(
    "sms_reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("carrier", String(64), nullable=False),
    Column("carrier_message_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("at", Float, nullable=False),
    Column("applied", Boolean, nullable=False, default=False),
)
"""Delivery reports as carriers gave them; `applied` once matched to a message.

A report can arrive before the submission that caused it is recorded, so it
waits here until the sender records the carrier's message id.
"""

Index(
    "ix_sms_reports_carrier_id",
    sms_reports.c.carrier,
    sms_reports.c.carrier_message_id,
)
