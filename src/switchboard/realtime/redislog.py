"""The per-user event log on Redis, shared by every node of a deployment.

Per user there is a counter (INCR gives the next number) and a list of
`"<seq> <time> <event id>"` entries trimmed to the retention window; the event
itself is stored once under its id, however many users it went to. A Lua script
numbers and appends in one step, so the list is always in number order with no
holes, whichever node appended. Counters never expire: a number once given is
never given again, however long a user stays quiet.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import redis.asyncio as aioredis

from switchboard.core.clock import Clock
from switchboard.realtime.eventlog import Entry, EventLog, Replay, Retention

_PREFIX = "switchboard:rt:"

_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], seq .. ' ' .. ARGV[1] .. ' ' .. ARGV[4])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
local oldest = tonumber(ARGV[1]) - tonumber(ARGV[3])
while true do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head then break end
  local ts = tonumber(string.match(head, '^%d+ ([^ ]+) '))
  if ts >= oldest then break end
  redis.call('LPOP', KEYS[2])
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return seq
"""

_SINCE = """
local latest = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = latest - tonumber(ARGV[1])
if wanted <= 0 then return {latest} end
local items = redis.call('LRANGE', KEYS[2], -wanted, -1)
table.insert(items, 1, latest)
return items
"""


def _keys(user: str) -> list[str]:
    # The hash tag keeps both keys of a user in one Redis Cluster slot.
    return [f"{_PREFIX}{{{user}}}:seq", f"{_PREFIX}{{{user}}}:log"]


class RedisEventLog(EventLog):
    """The log of a deployment of several nodes, on Redis."""

    def __init__(self, url: str, retention: Retention, clock: Clock) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(url)
        self._retention = retention
        self._clock = clock
        self._append = self._redis.register_script(_APPEND)
        self._since = self._redis.register_script(_SINCE)
        self._payload_ttl = math.ceil(retention.max_age_s) + 60

    async def start(self) -> None:
        """Check that Redis answers and learn the deployment's stream name."""
        await self._redis.ping()
        # The first node names the numbering; every node after it reads that name.
        await self._redis.set(_PREFIX + "stream", "r-" + uuid.uuid4().hex[:16], nx=True)
        name = await self._redis.get(_PREFIX + "stream")
        if not isinstance(name, bytes):
            raise RuntimeError("redis lost the realtime stream name just set")
        self.stream = name.decode()

    async def append(
        self, users: list[str], event: str, data: dict[str, Any], time: float
    ) -> list[int]:
        """Store the event once, then number it for every user in one round trip."""
        if not users:
            return []
        event_id = uuid.uuid4().hex
        payload = json.dumps({"event": event, "data": data}, separators=(",", ":"))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_PREFIX + "ev:" + event_id, payload, ex=self._payload_ttl)
            for user in users:
                await self._append(
                    keys=_keys(user),
                    args=[
                        repr(time),
                        self._retention.max_events,
                        self._retention.max_age_s,
                        event_id,
                        self._payload_ttl,
                    ],
                    client=pipe,
                )
            results = await pipe.execute()
        return [int(n) for n in results[1:]]

    async def latest(self, user: str) -> int:
        """The user's counter."""
        value = await self._redis.get(_keys(user)[0])
        return int(value) if value is not None else 0

    async def since(self, user: str, after: int) -> Replay:
        """The kept entries above `after` with their events, or a gap."""
        reply = await self._since(keys=_keys(user), args=[after])
        latest = int(reply[0])
        if after == latest:
            return Replay(latest, [])
        if after > latest or after < 0:
            return Replay(latest, [], gap=True)

        # Parse the entries and check that they start right after `after`.
        rows = []
        for raw in reply[1:]:
            seq, ts, event_id = raw.decode().split(" ")
            rows.append((int(seq), float(ts), event_id))
        oldest = self._clock() - self._retention.max_age_s
        if not rows or rows[0][0] != after + 1 or rows[0][1] < oldest:
            return Replay(latest, [], gap=True)

        # Fetch each distinct event once.
        ids = list(dict.fromkeys(row[2] for row in rows))
        payloads = await self._redis.mget([_PREFIX + "ev:" + i for i in ids])
        events: dict[str, dict[str, Any]] = {}
        for event_id, payload in zip(ids, payloads, strict=True):
            if payload is None:
                return Replay(latest, [], gap=True)
            events[event_id] = json.loads(payload)
        entries = [
            Entry(seq, ts, events[i]["event"], events[i]["data"]) for seq, ts, i in rows
        ]
        return Replay(latest, entries)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
