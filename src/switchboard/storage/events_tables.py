"""The event tables: webhook subscriptions, the outbox and per-subscription deliveries.

A change and the events it causes are written in one transaction (the outbox).
The dispatcher then expands each outbox row into one delivery per matching
subscription and works the deliveries off, so no accepted event is lost in a crash.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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

event_subscriptions = Table(
    "event_subscriptions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("target_url", Text, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("subject_prefix", Text, nullable=False, default=""),
    Column("envelope", String(16), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("max_age_s", Float, nullable=False),
    Column("state", String(24), nullable=False),
    Column("state_detail", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("validate_after", Float, nullable=False, default=0.0),
    Column("validation_attempts", Integer, nullable=False, default=0),
    Column("validation_code", String(64), nullable=False, default=""),
)
"""Webhook subscriptions; `state` is awaitingValidation, active or validationFailed."""

event_outbox = Table(
    "event_outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(128), nullable=False),
    Column("subject", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("event_time", Float, nullable=False),
    Column("expanded", Boolean, nullable=False, default=False),
)
"""Every event, in the order its transaction committed it."""

Index("ix_event_outbox_pending", event_outbox.c.expanded, event_outbox.c.seq)

event_deliveries = Table(
    "event_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("subscription", String(64), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("subject", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
)
"""One event for one subscription; `state` is pending, delivered or dead."""

Index(
    "ix_event_deliveries_due",
    event_deliveries.c.state,
    event_deliveries.c.next_attempt_at,
)
Index(
    "ix_event_deliveries_order",
    event_deliveries.c.subscription,
    event_deliveries.c.subject,
    event_deliveries.c.state,
    event_deliveries.c.event_seq,
)
