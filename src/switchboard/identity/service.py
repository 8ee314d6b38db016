"""Users and their tokens: create, issue, revoke, delete, and the state tokens need."""

from __future__ import annotations

import logging
import time

from sqlalchemy import insert, select, update

from switchboard.auth.scopes import Scope
from switchboard.auth.tokens import IssuedToken, TokenIssuer, UserState
from switchboard.bus import Bus
from switchboard.bus.base import Message
from switchboard.core.clock import Clock
from switchboard.core.errors import not_found
from switchboard.core.ids import UserId, new_user_id
from switchboard.storage.engine import Database
from switchboard.storage.tables import users

log = logging.getLogger(__name__)

USER_CHANGED = "identity.user-changed"
"""Bus topic: a user was deleted or had tokens revoked; caches drop the entry."""


class IdentityService:
    """The users of one resource."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        issuer: TokenIssuer,
        resource_id: str,
        clock: Clock,
        cache_s: float,
    ) -> None:
        self._db = db
        self._bus = bus
        self._issuer = issuer
        self._resource_id = resource_id
        self._clock = clock
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, UserState | None]] = {}
        # Bumped on every change, so that a lookup racing a change is not cached.
        self._generation = 0

    async def start(self) -> None:
        """Listen for changes made through other nodes."""
        await self._bus.subscribe(USER_CHANGED, self._on_user_changed)

    async def _on_user_changed(self, message: Message) -> None:
        self._forget(str(message.get("user")))

    def _forget(self, raw_id: str) -> None:
        self._generation += 1
        self._cache.pop(raw_id, None)

    async def create_user(self) -> UserId:
        """A new user."""
        user = new_user_id(self._resource_id)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(users).values(
                    id=user.raw, created_at=self._clock(), revoked_before=0.0
                )
            )
        log.info("user %s created", user)
        return user

    async def issue_token(
        self, user: UserId, scopes: tuple[Scope, ...], expires_in_minutes: int
    ) -> IssuedToken:
        """A token for an existing user; 404 when the user does not exist."""
        state = await self._load(user)
        if state is None or state.deleted:
            raise not_found(f"the identity {user.raw} does not exist", target="id")
        token = self._issuer.issue(user, scopes, expires_in_minutes)
        log.info(
            "token issued for %s scopes=%s minutes=%d",
            user,
            ",".join(scopes),
            expires_in_minutes,
        )
        return token

    async def revoke_tokens(self, user: UserId) -> None:
        """Invalidate every token issued to the user until now, on every node."""
        await self._change(user, revoked_before=self._clock())
        log.info("tokens revoked for %s", user)

    async def delete_user(self, user: UserId) -> None:
        """Delete the user; its tokens stop working at once."""
        now = self._clock()
        await self._change(user, deleted_at=now, revoked_before=now)
        log.info("user %s deleted", user)

    async def _change(self, user: UserId, **values: float) -> None:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update(users)
                .where(users.c.id == user.raw, users.c.deleted_at.is_(None))
                .values(**values)
            )
        if result.rowcount == 0:
            raise not_found(f"the identity {user.raw} does not exist", target="id")
        self._forget(user.raw)
        await self._bus.publish(USER_CHANGED, {"user": user.raw})

    async def user_state(self, user: UserId) -> UserState | None:
        """The user's state for token checks, cached briefly and dropped on change."""
        now = time.monotonic()
        cached = self._cache.get(user.raw)
        if cached is not None and cached[0] > now:
            return cached[1]
        generation = self._generation
        state = await self._load(user)
        if self._cache_s > 0 and generation == self._generation:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[user.raw] = (now + self._cache_s, state)
        return state

    async def _load(self, user: UserId) -> UserState | None:
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(users.c.deleted_at, users.c.revoked_before).where(
                        users.c.id == user.raw
                    )
                )
            ).first()
        if row is None:
            return None
        return UserState(
            deleted=row.deleted_at is not None, revoked_before=row.revoked_before
        )
