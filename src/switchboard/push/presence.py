"""Who has a live realtime connection, on any node: chat pushes skip those users.

The hub tells a `LocalPresence` when a user's first connection on this node
opens and when the last one closes. Without Redis there is one node and that is
the whole answer. With Redis each node also keeps, per connected user, a sorted
set entry `node -> expiry` that it refreshes every third of the TTL, so a node
that dies stops counting once its entries run out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from typing import Protocol

from switchboard.core.clock import Clock

log = logging.getLogger(__name__)

KEY_PREFIX = "switchboard:presence:"


class Presence(Protocol):
    """Answers which of some users are connected to the realtime gateway."""

    async def online(self, users: Iterable[str]) -> set[str]:
        """The users among `users` with at least one live connection."""
        ...

    async def start(self) -> None:
        """Begin keeping presence."""
        ...

    async def stop(self) -> None:
        """Stop, withdrawing this node's marks."""
        ...


class LocalPresence:
    """The users connected to this node, told by the hub."""

    def __init__(self) -> None:
        self.users: set[str] = set()

    def connected(self, user: str) -> None:
        """The user's first connection on this node opened."""
        self.users.add(user)
        log.debug("presence: %s connected here", user)

    def disconnected(self, user: str) -> None:
        """The user's last connection on this node closed."""
        self.users.discard(user)
        log.debug("presence: %s gone from here", user)

    async def online(self, users: Iterable[str]) -> set[str]:
        """The users among `users` connected to this node."""
        return self.users.intersection(users)

    async def start(self) -> None:
        """Nothing to start in-process."""

    async def stop(self) -> None:
        """Nothing to stop in-process."""


class RedisPresence(LocalPresence):
    """This node's users plus every other node's, through Redis with expiring marks."""

    def __init__(self, url: str, ttl_s: float, clock: Clock) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self._redis: aioredis.Redis = aioredis.from_url(url)
        self._ttl_s = ttl_s
        self._clock = clock
        self._node = uuid.uuid4().hex
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None
        # Marks and withdrawals run one at a time, in the order they were asked
        # for, so that a quick reconnect cannot leave a withdrawn mark behind.
        self._lock = asyncio.Lock()

    def connected(self, user: str) -> None:
        """Mark the user as connected here at once."""
        super().connected(user)
        self._spawn(self._mark([user]))

    def disconnected(self, user: str) -> None:
        """Withdraw this node's mark for the user."""
        super().disconnected(user)
        self._spawn(self._unmark(user))

    async def online(self, users: Iterable[str]) -> set[str]:
        """Users connected here, or marked by any node with an unexpired entry."""
        wanted = list(dict.fromkeys(users))
        found = self.users.intersection(wanted)
        others = [user for user in wanted if user not in found]
        if not others:
            return found
        now = self._clock()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in others:
                    pipe.zcount(KEY_PREFIX + user, now, "+inf")
                counts = await pipe.execute()
        except Exception as exc:
            # Better a push too many than a message nobody hears of.
            log.warning("presence: Redis did not answer (%s); users count as away", exc)
            return found
        found.update(user for user, n in zip(others, counts, strict=True) if n)
        return found

    async def settle(self) -> None:
        """Wait until the marks and withdrawals asked for so far are in Redis."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def start(self) -> None:
        """Refresh this node's marks every third of the TTL."""
        await self._redis.ping()
        self._refresher = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        """Withdraw every mark of this node and close the connection."""
        if self._refresher is not None:
            self._refresher.cancel()
        await asyncio.gather(
            *self._tasks,
            *([self._refresher] if self._refresher else []),
            return_exceptions=True,
        )
        marked, self.users = list(self.users), set()
        for user in marked:
            await self._unmark(user)
        await self._redis.aclose()

    def _spawn(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mark(self, users: list[str]) -> None:
        async with self._lock:
            await self._mark_now([u for u in users if u in self.users])

    async def _mark_now(self, users: list[str]) -> None:
        if not users:
            return
        expiry = self._clock() + self._ttl_s
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in users:
                    key = KEY_PREFIX + user
                    pipe.zadd(key, {self._node: expiry})
                    pipe.zremrangebyscore(key, "-inf", self._clock())
                    pipe.expire(key, int(self._ttl_s) + 1)
                await pipe.execute()
        except Exception:
            log.exception("presence: could not mark %d users", len(users))

    async def _unmark(self, user: str) -> None:
        async with self._lock:
            if user in self.users:
                return
            try:
                await self._redis.zrem(KEY_PREFIX + user, self._node)
            except Exception:
                log.exception("presence: could not withdraw %s", user)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            await self._mark(sorted(self.users))
