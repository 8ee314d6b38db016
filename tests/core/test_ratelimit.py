"""Rate budgets: the in-process limiter on a fake clock, the Redis one on Redis."""

from __future__ import annotations

import uuid

import pytest

from switchboard.core.errors import AcsError
from switchboard.core.ratelimit import (
    Budget,
    MemoryRateLimiter,
    RedisRateLimiter,
    open_rate_limiter,
)
from tests.conftest import REDIS_URL


class FakeClock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_memory_allows_a_burst_then_refills_smoothly() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    budget = Budget(key(), 4, 10.0)

    assert [await limiter.check([budget]) for _ in range(4)] == [0.0] * 4
    assert await limiter.check([budget]) == pytest.approx(2.5)

    clock.now += 2.5
    assert await limiter.check([budget]) == 0.0
    assert await limiter.check([budget]) == pytest.approx(2.5)

    clock.now += 10.0
    assert [await limiter.check([budget]) for _ in range(4)] == [0.0] * 4


async def test_memory_charges_all_budgets_or_none() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    small, large = Budget(key(), 1, 10.0), Budget(key(), 3, 10.0)

    assert await limiter.check([small, large]) == 0.0
    assert await limiter.check([small, large]) == pytest.approx(10.0)

    # The refused request did not use up any of the large budget.
    assert [await limiter.check([large]) for _ in range(2)] == [0.0, 0.0]
    assert await limiter.check([large]) > 0


async def test_zero_limit_means_unlimited() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    unlimited = Budget(key(), 0, 10.0)

    assert [await limiter.check([unlimited]) for _ in range(100)] == [0.0] * 100


async def test_enforce_raises_429_with_retry_after() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    budget = Budget(key(), 1, 30.0)
    await limiter.enforce([budget], "this user")

    with pytest.raises(AcsError) as caught:
        await limiter.enforce([budget], "this user")

    assert caught.value.status == 429
    assert caught.value.code == "TooManyRequests"
    assert caught.value.headers == {"Retry-After": "30"}
    assert caught.value.message == "too many requests for this user; retry after 30 s"


async def test_redis_shares_budgets_between_limiters() -> None:
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    budget = Budget(key(), 3, 60.0)
    try:
        assert await first.check([budget]) == 0.0
        assert await second.check([budget]) == 0.0
        assert await first.check([budget]) == 0.0
        wait = await second.check([budget])
        assert 0 < wait <= 20.0
    finally:
        await first.close()
        await second.close()


async def test_redis_charges_all_budgets_or_none() -> None:
    limiter = open_rate_limiter(REDIS_URL)
    assert isinstance(limiter, RedisRateLimiter)
    small, large = Budget(key(), 1, 60.0), Budget(key(), 2, 60.0)
    try:
        assert await limiter.check([small, large]) == 0.0
        assert await limiter.check([small, large]) > 0
        assert await limiter.check([large]) == 0.0
        assert await limiter.check([large]) > 0
    finally:
        await limiter.close()


def test_no_redis_url_means_in_process() -> None:
    assert isinstance(open_rate_limiter(""), MemoryRateLimiter)
