"""The database: one async engine, migrations applied at start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"

# Any number would do; it only has to be the same on every node.
_MIGRATION_LOCK_ID = 0x5357424F


class Database:
    """The engine every service shares, SQLite or PostgreSQL by URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}
            )
        else:
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe with several nodes."""
        async with self.engine.begin() as conn:
            if self.is_sqlite:
                await conn.execute(text("PRAGMA journal_mode=WAL"))
            else:
                # Nodes starting together take turns; the lock ends with the
                # transaction.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"),
                    {"id": _MIGRATION_LOCK_ID},
                )
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        """Raise when the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
    log.debug("database schema is current")
