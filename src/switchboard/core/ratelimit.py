"""Request budgets per key (a user, a thread), in process or shared through Redis.

Both backends run the generic cell rate algorithm (GCRA): a key that may make
`limit` requests per `window_s` keeps one number, its theoretical arrival time
(TAT). Each request moves the TAT on by `window_s / limit`; a request is refused
while the TAT would run more than one window ahead of now, and the refusal says
how long until it would not. A burst of `limit` requests is allowed at once, and
the budget refills smoothly rather than all at the end of a window.

Several budgets are checked together: the request is admitted only if every one
has room, and only then is any of them charged.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard.core.errors import AcsError, too_many_requests

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Budget:
    """`limit` requests per `window_s` for one key; a limit of 0 means unlimited."""

    key: str
    limit: int
    window_s: float


class RateLimiter(abc.ABC):
    """Admits or refuses a request against several budgets at once."""

    async def check(self, budgets: Sequence[Budget]) -> float:
        """Charge every budget and return 0, or charge none and return the wait."""
        active = [b for b in budgets if b.limit > 0]
        if not active:
            return 0.0
        return await self._check(active)

    async def enforce(self, budgets: Sequence[Budget], what: str) -> None:
        """Like `check`, but a refusal is a 429 with `Retry-After`."""
        wait = await self.check(budgets)
        if wait > 0:
            raise _refusal(what, wait)

    @abc.abstractmethod
    async def _check(self, budgets: Sequence[Budget]) -> float:
        """`check` for budgets that all have a limit."""

    async def close(self) -> None:  # noqa: B027 - the in-process limiter holds nothing
        """Release connections."""


def _refusal(what: str, wait_s: float) -> AcsError:
    log.debug("rate limit reached for %s; retry in %.3fs", what, wait_s)
    return too_many_requests(
        f"too many requests for {what}; retry after {math.ceil(wait_s)} s",
        math.ceil(wait_s),
    )


class MemoryRateLimiter(RateLimiter):
    """Budgets kept in this process: right for a single node."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys
        self._lock = asyncio.Lock()

    async def _check(self, budgets: Sequence[Budget]) -> float:
        async with self._lock:
            now = self._clock()
            wait = 0.0
            updates: dict[str, float] = {}
            for budget in budgets:
                step = budget.window_s / budget.limit
                tat = max(self._tat.get(budget.key, now), now) + step
                wait = max(wait, tat - budget.window_s - now)
                updates[budget.key] = tat
            # Floating-point sums of window / limit may overshoot by a hair.
            if wait > 1e-6:
                return wait
            if len(self._tat) > self._max_keys:
                self._forget_idle(now)
            self._tat.update(updates)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        # A key whose TAT has passed has its whole budget back; dropping it
        # changes nothing.
        self._tat = {k: v for k, v in self._tat.items() if v > now}


# The same algorithm as MemoryRateLimiter, atomic in Redis. Redis's own clock is
# used so that nodes with skewed clocks share one notion of now. KEYS are the
# budgets' keys; ARGV holds (limit, window in ms) per key. Returns the wait in
# ms, 0 when admitted.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tat = tat + window / limit
  tats[i] = tat
  local w = tat - window - now
  if w > wait then wait = w end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
return 0
"""


class RedisRateLimiter(RateLimiter):
    """Budgets kept in Redis, so that every node of a deployment shares them."""

    _PREFIX = "switchboard:rate:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis: aioredis.Redis = aioredis.from_url(url)
        self._script = self._redis.register_script(_GCRA_SCRIPT)

    async def _check(self, budgets: Sequence[Budget]) -> float:
        keys = [self._PREFIX + b.key for b in budgets]
        args: list[float] = []
        for budget in budgets:
            args += [budget.limit, budget.window_s * 1000]
        wait_ms = await self._script(keys=keys, args=args)
        return int(wait_ms) / 1000

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()


def open_rate_limiter(redis_url: str) -> RateLimiter:
    """The in-process limiter, or the Redis one when a URL is given."""
    if not redis_url:
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_url)
