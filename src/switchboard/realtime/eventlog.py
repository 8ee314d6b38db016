"""The per-user event log behind resume: numbered events kept for a bounded window.

Every user has one stream of events numbered 1, 2, 3, ... shared by all of that
user's connections on every node. The log keeps the newest events within a count
and an age bound; a reader that asks for events after a number that has fallen
out of the window is told so, and its client gets a `resync` frame instead of a
silent gap.
"""

from __future__ import annotations

import abc
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from switchboard.core.clock import Clock


@dataclass(frozen=True, slots=True)
class Entry:
    """One numbered event in a user's stream."""

    seq: int
    time: float
    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer to `since`: the missed events, or a gap that needs a resync.

    `latest` is the newest number of the user's stream when the log was read.
    `gap` is true when some of the events after the asked number are no longer
    kept (or the number is ahead of the stream); `entries` is then empty.
    """

    latest: int
    entries: list[Entry]
    gap: bool = False


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of each user's stream the log keeps."""

    max_events: int
    max_age_s: float


class EventLog(abc.ABC):
    """Numbers events per user and keeps the newest of them for resume.

    `stream` names the numbering: a log that starts counting again (a single
    node's memory after a restart) has a new name, so that numbers a client
    kept from before are recognised as meaningless instead of replayed.
    """

    stream: str = ""

    @abc.abstractmethod
    async def append(
        self, users: list[str], event: str, data: dict[str, Any], time: float
    ) -> list[int]:
        """Append one event to each user's stream; returns each user's new number."""

    @abc.abstractmethod
    async def latest(self, user: str) -> int:
        """The newest number in the user's stream (0 when it has none)."""

    @abc.abstractmethod
    async def since(self, user: str, after: int) -> Replay:
        """The user's events numbered above `after`, in order, or a gap."""

    async def close(self) -> None:  # noqa: B027 - the in-process log holds nothing
        """Release connections."""


class MemoryEventLog(EventLog):
    """The log of a single node, in process memory."""

    def __init__(self, retention: Retention, clock: Clock) -> None:
        self._retention = retention
        self._clock = clock
        self.stream = "m-" + uuid.uuid4().hex[:16]
        self._counters: dict[str, int] = {}
        self._streams: dict[str, deque[Entry]] = {}

    async def append(
        self, users: list[str], event: str, data: dict[str, Any], time: float
    ) -> list[int]:
        """Number the event for each user and keep it, trimming to the window."""
        numbers = []
        for user in users:
            seq = self._counters.get(user, 0) + 1
            self._counters[user] = seq
            stream = self._streams.get(user)
            if stream is None:
                stream = self._streams[user] = deque(maxlen=self._retention.max_events)
            # Every user's entry shares the one data object: fan-out copies nothing.
            stream.append(Entry(seq, time, event, data))
            self._trim(stream)
            numbers.append(seq)
        return numbers

    async def latest(self, user: str) -> int:
        """The user's counter."""
        return self._counters.get(user, 0)

    async def since(self, user: str, after: int) -> Replay:
        """Entries above `after` when all of them are still kept."""
        latest = self._counters.get(user, 0)
        if after == latest:
            return Replay(latest, [])
        if after > latest or after < 0:
            return Replay(latest, [], gap=True)
        stream = self._streams.get(user)
        if stream is None:
            return Replay(latest, [], gap=True)
        self._trim(stream)
        if not stream or stream[0].seq > after + 1:
            return Replay(latest, [], gap=True)
        start = after + 1 - stream[0].seq
        return Replay(latest, [stream[i] for i in range(start, len(stream))])

    def _trim(self, stream: deque[Entry]) -> None:
        oldest = self._clock() - self._retention.max_age_s
        while stream and stream[0].time < oldest:
            stream.popleft()

    def sweep(self) -> int:
        """Drop streams whose events have all aged out; returns how many went.

        The counters stay, so numbering never restarts for a user on this node.
        """
        emptied = []
        for user, stream in self._streams.items():
            self._trim(stream)
            if not stream:
                emptied.append(user)
        for user in emptied:
            del self._streams[user]
        return len(emptied)
