"""Token buckets: the per-allocation bandwidth cap and per-IP reply limits."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    """A token bucket refilled at ``rate`` per second up to ``burst``."""

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def take(self, amount: float = 1.0) -> bool:
        """Take ``amount`` tokens if there are enough; False means over the limit."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True

    def is_full(self) -> bool:
        """Whether the bucket has refilled completely (safe to forget)."""
        now = self._clock()
        return self._tokens + (now - self._stamp) * self._rate >= self._burst


class KeyedLimiter:
    """One token bucket per key (a source IP), forgotten once refilled."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        """Whether one more event for ``key`` is within the limit."""
        if self._rate <= 0:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._clock)
            self._buckets[key] = bucket
        return bucket.take()

    def prune(self) -> None:
        """Forget keys whose buckets are full again."""
        for key in [k for k, b in self._buckets.items() if b.is_full()]:
            del self._buckets[key]
