"""The TURN table: the shared secret every node's TURN server checks with."""

from __future__ import annotations

from sqlalchemy import Column, Float, String, Table

from switchboard.storage.tables import metadata

turn_secrets = Table(
    "turn_secrets",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)
"""TURN shared secrets by name; the row `shared` signs every relay credential."""
