"""The number inventory tables: searches, held and owned numbers, operations.

The inventory itself (which numbers exist) comes from the carriers'
configuration. The database records only what is taken: one `phone_numbers`
row per number, held by a search or owned by the resource. Its primary key is
what stops two searches or two purchases from ever taking the same number,
on SQLite and PostgreSQL alike and across nodes.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text

from switchboard.storage.tables import metadata

number_searches = Table(
    "number_searches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("country", String(2), nullable=False),
    Column("number_type", String(16), nullable=False),
    Column("assignment_type", String(16), nullable=False),
    Column("calling", String(24), nullable=False),
    Column("sms", String(24), nullable=False),
    Column("area_code", String(8), nullable=False, default=""),
    Column("quantity", Integer, nullable=False),
    Column("numbers", JSON, nullable=False),
    Column("cost", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
"""Searches; `state` is held until purchased. A search past `expires_at` is dead."""

phone_numbers = Table(
    "phone_numbers",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("search_id", String(36), nullable=True),
    Column("hold_expires_at", Float, nullable=True),
    Column("carrier", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("number_type", String(16), nullable=False),
    Column("assignment_type", String(16), nullable=False),
    Column("calling", String(24), nullable=False),
    Column("sms", String(24), nullable=False),
    Column("offered_calling", String(24), nullable=False),
    Column("offered_sms", String(24), nullable=False),
    Column("cost", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("purchased_at", Float, nullable=True),
)
"""Numbers taken from the inventory: `held` by a search or `owned`."""

Index("ix_phone_numbers_search", phone_numbers.c.search_id)
Index("ix_phone_numbers_state", phone_numbers.c.state, phone_numbers.c.number)

number_operations = Table(
    "number_operations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("resource", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
)
"""Long-running operations of the phone numbers API, polled by clients."""
