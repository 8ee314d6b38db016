"""The tables, in SQLAlchemy Core; migrations under `migrations/` create them."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

resource = Table(
    "resource",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("id", String(36), nullable=False),
    Column("created_at", Float, nullable=False),
)
"""The one resource this deployment serves: a single row named `this`."""

access_keys = Table(
    "access_keys",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)
"""The primary and secondary access keys, base64 as in connection strings."""

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
)
"""Keys that sign user access tokens; the newest unretired one signs."""

users = Table(
    "users",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
    Column("revoked_before", Float, nullable=False, default=0.0),
)
"""Communication users; tokens issued before `revoked_before` are refused."""
