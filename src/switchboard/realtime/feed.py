"""One user's stream on one node: puts bus deliveries back in number order.

Events reach a node through the bus, and two nodes' publishes may arrive in
either order (or, on Redis pub/sub, not at all). The feed hands its user's
connections every number exactly once and in order: an early arrival waits
while the missing numbers are read back from the event log, and numbers that
have left the log's window become a `resync` instead of a silent gap. An event
that never arrives at all is noticed only when the user's next one does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from switchboard.realtime.eventlog import Entry, EventLog

log = logging.getLogger(__name__)

FILL_DELAY_S = 0.05
"""How long an out-of-order event waits for the missing ones before the log is read."""


class Subscriber(Protocol):
    """A connection as the feed sees it."""

    def offer(self, entry: Entry) -> None:
        """Take the next event of the stream."""
        ...

    def resync(self, seq: int, reason: str) -> None:
        """Events up to `seq` cannot be delivered; tell the client to refetch."""
        ...


class UserFeed:
    """The in-order stream of one user for that user's connections on this node."""

    def __init__(self, user: str, event_log: EventLog) -> None:
        self.user = user
        self.subscribers: set[Subscriber] = set()
        self._log = event_log
        self._cursor: int | None = None
        self._early: dict[int, Entry] = {}
        self._ready = asyncio.Event()
        self._filler: asyncio.Task[None] | None = None
        self._failure: Exception | None = None

    @property
    def cursor(self) -> int | None:
        """The last number handed on, or None before `start` has read the log."""
        return self._cursor

    async def start(self) -> None:
        """Read where the stream stands; events that arrived meanwhile are kept."""
        try:
            latest = await self._log.latest(self.user)
        except Exception as exc:
            self._failure = exc
            self._ready.set()
            raise
        self._cursor = latest
        self._ready.set()
        self._drain()

    async def ready(self) -> None:
        """Wait until `start` has finished; raises if it failed."""
        await self._ready.wait()
        if self._failure is not None:
            raise RuntimeError("the event log did not answer") from self._failure

    def offer(self, entry: Entry) -> None:
        """Take an event from the bus, in whatever order it came."""
        if self._cursor is not None and entry.seq <= self._cursor:
            return
        self._early[entry.seq] = entry
        if self._cursor is not None:
            self._drain()

    def _drain(self, schedule_fill: bool = True) -> None:
        assert self._cursor is not None
        for seq in [s for s in self._early if s <= self._cursor]:
            del self._early[seq]
        while self._cursor + 1 in self._early:
            entry = self._early.pop(self._cursor + 1)
            self._cursor = entry.seq
            for subscriber in list(self.subscribers):
                subscriber.offer(entry)
        if schedule_fill and self._early and self._filler is None:
            self._filler = asyncio.create_task(self._fill())

    async def _fill(self) -> None:
        try:
            # Most reorderings between nodes settle by themselves within moments.
            await asyncio.sleep(FILL_DELAY_S)
            if self._early and self._cursor is not None:
                await self._read_missing(self._cursor)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed %s: reading missed events failed", self.user)
        finally:
            self._filler = None
        if self._early:
            self._filler = asyncio.create_task(self._fill())

    async def _read_missing(self, cursor: int) -> None:
        replay = await self._log.since(self.user, cursor)
        if replay.gap:
            log.warning(
                "feed %s: events %d..%d left the window before delivery",
                self.user,
                cursor + 1,
                replay.latest,
            )
            self._cursor = max(replay.latest, self._cursor or 0)
            for subscriber in list(self.subscribers):
                subscriber.resync(self._cursor, "events were lost in transit")
        for entry in replay.entries:
            self._early.setdefault(entry.seq, entry)
        self._drain(schedule_fill=False)

    def close(self) -> None:
        """Stop any read under way; the feed has no subscribers left."""
        if self._filler is not None:
            self._filler.cancel()
            self._filler = None
