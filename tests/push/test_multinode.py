"""Two nodes on one PostgreSQL and one Redis: presence and the outbox are shared."""

from __future__ import annotations

import asyncio

import asyncpg

from switchboard.client import ChatClient, RealtimeClient
from tests.conftest import REDIS_URL, RunningServer
from tests.push.conftest import register
from tests.push.providers import Providers
from tests.realtime.support import new_user, thread_with


async def _deliveries(postgres_url: str, registration_id: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(postgres_url)
    try:
        rows = await conn.fetch(
            "SELECT state, attempts FROM push_deliveries WHERE registration_id = $1",
            registration_id,
        )
    finally:
        await conn.close()
    return [(row["state"], row["attempts"]) for row in rows]


async def test_a_user_connected_to_another_node_gets_no_push(
    server_factory: type, postgres_url: str, providers: Providers
) -> None:
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    env = providers.node_env()
    first: RunningServer = server_factory.start(*shared, env=env)
    second: RunningServer = server_factory.start(*shared, env=env)
    (_, ada_token), (bob, bob_token), (cy, cy_token) = [
        await new_user(first) for _ in range(3)
    ]
    bob_fcm, cy_fcm = "fcm-multi-bob-" + "b" * 30, "fcm-multi-cy-" + "c" * 30
    bob_phone = register(
        first, bob_token, {"platform": "fcm", "appId": "a", "deviceToken": bob_fcm}
    ).json()
    cy_phone = register(
        second, cy_token, {"platform": "fcm", "appId": "a", "deviceToken": cy_fcm}
    ).json()
    thread = await thread_with(first, ada_token, [bob, cy])

    async with RealtimeClient(first.endpoint, bob_token):
        async with ChatClient(second.endpoint, ada_token) as chat:
            await chat.send_message(thread, "one node knows bob is here")
        [pushed] = await providers.wait_for("fcm", cy_fcm)

    assert pushed.payload["data"]["preview"] == "one node knows bob is here"
    assert await _deliveries(postgres_url, bob_phone["id"]) == []
    assert providers.of("fcm", bob_fcm) == []
    # Claimed by one node only: one attempt, sent.
    deliveries = await _deliveries(postgres_url, cy_phone["id"])
    while deliveries != [("sent", 1)]:
        assert all(state == "pending" for state, _ in deliveries), deliveries
        await asyncio.sleep(0.05)
        deliveries = await _deliveries(postgres_url, cy_phone["id"])
