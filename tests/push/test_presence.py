"""Presence: in-process, and across nodes through Redis with expiring marks."""

from __future__ import annotations

import uuid

from switchboard.push.presence import LocalPresence, RedisPresence
from tests.conftest import REDIS_URL


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_local_presence_follows_the_hub() -> None:
    presence = LocalPresence()

    presence.connected("ada")
    presence.connected("bob")
    presence.disconnected("bob")

    assert await presence.online(["ada", "bob", "cy"]) == {"ada"}


async def test_a_user_on_one_node_is_online_for_the_other() -> None:
    clock = Clock()
    first = RedisPresence(REDIS_URL, 30.0, clock)
    second = RedisPresence(REDIS_URL, 30.0, clock)
    await first.start()
    await second.start()
    ada, bob = f"ada-{uuid.uuid4()}", f"bob-{uuid.uuid4()}"
    try:
        first.connected(ada)
        first.connected(bob)
        first.disconnected(bob)
        await first.settle()
        seen = await second.online([ada, bob])

        second.connected(bob)
        await first.stop()
        await second.settle()
        after_stop = await second.online([ada, bob])
    finally:
        await second.stop()

    assert seen == {ada}
    assert after_stop == {bob}


async def test_a_mark_not_refreshed_runs_out() -> None:
    clock = Clock()
    node = RedisPresence(REDIS_URL, 30.0, clock)
    other = RedisPresence(REDIS_URL, 30.0, clock)
    await other.start()
    ada = f"ada-{uuid.uuid4()}"
    try:
        await node.start()
        node.connected(ada)
        await node.settle()
        before = await other.online([ada])
        clock.now += 31
        after = await other.online([ada])
    finally:
        await node.stop()
        await other.stop()

    assert before == {ada}
    assert after == set()
