"""The SMS tables: messages sent or received, carriers' delivery reports, and the
parts of long incoming messages until each is complete.

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
    LargeBinary,
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

sms_inbound_parts = Table(
    "sms_inbound_parts",
    metadata,
    Column("carrier", String(64), primary_key=True),
    Column("sender", String(32), primary_key=True),
    Column("recipient", String(32), primary_key=True),
    Column("reference", Integer, primary_key=True),
    Column("total", Integer, primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("data_coding", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", Float, nullable=False),
)
"""Parts of concatenated messages a carrier took, kept until the last one comes.

A part is stored before the carrier acknowledges it, and the whole message
replaces its parts in one transaction, so a restart in between loses nothing.
"""

Index("ix_sms_inbound_parts_received", sms_inbound_parts.c.received_at)
