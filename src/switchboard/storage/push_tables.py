"""The push tables: device registrations, the push outbox, the VAPID key and the
pushes staged by changes that are not committed yet.

A registration is one device of one user on one provider. Each push to be sent
is a row of `push_deliveries`, claimed by a node's sender under a lease, so a
push survives a node's crash and is retried on transient provider errors.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from switchboard.storage.tables import metadata

push_registrations = Table(
    "push_registrations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("app_id", String(256), nullable=False),
    Column("token", Text, nullable=False),
    Column("token_key", String(64), nullable=False),
    Column("p256dh", String(128), nullable=True),
    Column("auth", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    UniqueConstraint("platform", "token_key", name="uq_push_registrations_device"),
)
"""Devices: a device token (APNs, FCM), a channel URI (WNS) or a Web Push
subscription's endpoint and keys; `token_key` is the SHA-256 of the token."""

Index("ix_push_registrations_user", push_registrations.c.user_id)

push_deliveries = Table(
    "push_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("registration_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("collapse_key", String(128), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    # A sender finishes a push by id: SQLite must not hand a deleted id out again.
    sqlite_autoincrement=True,
)
"""One push to one registration; `state` is pending, sent or dropped."""

Index(
    "ix_push_deliveries_due", push_deliveries.c.state, push_deliveries.c.next_attempt_at
)
Index(
    "ix_push_deliveries_registration",
    push_deliveries.c.registration_id,
    push_deliveries.c.collapse_key,
)

push_keys = Table(
    "push_keys",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
"""Keys push needs that every node shares: the VAPID key pair, named `vapid`."""

push_staged = Table(
    "push_staged",
    metadata,
    Column("source", String(256), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Column("due_at", Float, nullable=False),
)
"""Pushes a change will cause, written in the change's own transaction.

`source` names the change (a chat message: `<thread id>/<message id>`). The
node that made the change queues the pushes right after its commit and deletes
the row in the same transaction; a row still here at `due_at` belonged to a
node that stopped in between, and any node's sender queues its pushes then.
"""

Index("ix_push_staged_due", push_staged.c.due_at)
