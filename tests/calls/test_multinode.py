"""A call between users on two nodes sharing PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

from tests.calls.conftest import NODE_ENV
from tests.calls.support import V, connected, new_user, next_event, rest
from tests.conftest import REDIS_URL, RunningServer


async def test_a_call_rings_and_ends_across_nodes(
    server_factory: Any, postgres_url: str
) -> None:
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    a_node: RunningServer = server_factory.start(*shared, env=NODE_ENV)
    b_node: RunningServer = server_factory.start(*shared, env=NODE_ENV)
    alice, bob = await new_user(a_node), await new_user(b_node)
    async with connected(a_node, alice) as (a,), connected(b_node, bob) as (b1,):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b1, "incomingCall", call_id)
        await b1.request("call.accept", {"callId": call_id})
        state = await next_event(a, "callStateChanged", call_id)
        await a.request("call.end", {"callId": call_id})
        ended = await next_event(b1, "callEnded", call_id)
    history = await rest(b_node, bob.token, f"/switchboard/v1/calls/{call_id}?{V}")

    assert state["state"] == "connected"
    assert ended["reason"] == "completed"
    assert history.json()["endReason"] == "completed"
