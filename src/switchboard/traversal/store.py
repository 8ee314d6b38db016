"""The TURN shared secret, made on first start and kept in the database.

Every node reads the same row, so credentials issued by one node's relay API
are accepted by every node's TURN server (and by a coturn given the secret).
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from switchboard.core.clock import Clock
from switchboard.storage.engine import Database
from switchboard.storage.turn_tables import turn_secrets

log = logging.getLogger(__name__)

SHARED = "shared"
"""The name of the row holding the secret every relay credential is signed with."""


def new_secret() -> str:
    """A fresh 256-bit secret as hex, usable verbatim as coturn's static-auth-secret."""
    return secrets.token_hex(32)


class SecretStore:
    """Creates the TURN shared secret once and reads it back."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def ensure(self) -> str:
        """The shared secret, created if this is the deployment's first start."""
        found = await self._load()
        if found is not None:
            return found

        # Two nodes starting together may both try; the first insert wins.
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(
                    insert(turn_secrets).values(
                        name=SHARED, secret=new_secret(), created_at=self._clock()
                    )
                )
            log.info("TURN shared secret created")
        except IntegrityError:
            log.debug("TURN shared secret created by another node")
        created = await self._load()
        if created is None:
            raise RuntimeError("the TURN shared secret could not be stored")
        return created

    async def _load(self) -> str | None:
        async with self._db.engine.connect() as conn:
            secret: str | None = (
                await conn.execute(
                    select(turn_secrets.c.secret).where(turn_secrets.c.name == SHARED)
                )
            ).scalar()
        return secret
