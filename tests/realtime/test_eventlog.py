"""The per-user event log, in process and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from switchboard.realtime.eventlog import EventLog, MemoryEventLog, Retention
from switchboard.realtime.redislog import RedisEventLog
from tests.conftest import REDIS_URL


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def event_log(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[EventLog]:
    window = Retention(max_events=5, max_age_s=60.0)
    if request.param == "memory":
        yield MemoryEventLog(window, clock)
        return
    redis_log = RedisEventLog(REDIS_URL, window, clock)
    await redis_log.start()
    yield redis_log
    await redis_log.close()


def user() -> str:
    return f"8:acs:test_{uuid.uuid4()}"


async def test_numbers_are_per_user_and_start_at_one(
    event_log: EventLog, clock: FakeClock
) -> None:
    alice, bob = user(), user()
    assert await event_log.append([alice, bob], "e", {"n": 1}, clock()) == [1, 1]
    assert await event_log.append([alice], "e", {"n": 2}, clock()) == [2]
    assert await event_log.latest(alice) == 2
    assert await event_log.latest(bob) == 1
    assert await event_log.latest(user()) == 0


async def test_since_returns_the_missed_events_in_order(
    event_log: EventLog, clock: FakeClock
) -> None:
    alice = user()
    for n in range(1, 5):
        await event_log.append([alice], "chatMessageReceived", {"n": n}, clock())
    replay = await event_log.since(alice, 1)
    assert not replay.gap
    assert replay.latest == 4
    assert [(e.seq, e.event, e.data) for e in replay.entries] == [
        (2, "chatMessageReceived", {"n": 2}),
        (3, "chatMessageReceived", {"n": 3}),
        (4, "chatMessageReceived", {"n": 4}),
    ]
    assert (await event_log.since(alice, 4)).entries == []
    assert not (await event_log.since(alice, 4)).gap


async def test_events_beyond_the_count_window_mean_a_gap(
    event_log: EventLog, clock: FakeClock
) -> None:
    alice = user()
    for n in range(8):
        await event_log.append([alice], "e", {"n": n}, clock())
    assert (await event_log.since(alice, 2)).gap
    kept = await event_log.since(alice, 3)
    assert not kept.gap
    assert [e.seq for e in kept.entries] == [4, 5, 6, 7, 8]


async def test_events_older_than_the_age_window_mean_a_gap(
    event_log: EventLog, clock: FakeClock
) -> None:
    alice = user()
    await event_log.append([alice], "e", {"n": 1}, clock())
    clock.now += 61
    await event_log.append([alice], "e", {"n": 2}, clock())
    assert (await event_log.since(alice, 0)).gap
    assert [e.seq for e in (await event_log.since(alice, 1)).entries] == [2]


async def test_a_number_ahead_of_the_stream_means_a_gap(
    event_log: EventLog, clock: FakeClock
) -> None:
    alice = user()
    await event_log.append([alice], "e", {}, clock())
    replay = await event_log.since(alice, 7)
    assert replay.gap
    assert replay.latest == 1


async def test_unicode_data_round_trips(event_log: EventLog, clock: FakeClock) -> None:
    alice = user()
    data = {"message": "héllo 👋🏽 世界", "metadata": {"k": "ü"}}
    await event_log.append([alice], "chatMessageReceived", data, clock())
    assert (await event_log.since(alice, 0)).entries[0].data == data
