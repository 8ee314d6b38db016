"""The gateway's connection logic on a real node's services with an injected clock.

The socket is the one edge replaced here: an in-memory transport carries the
frames, so token expiry and heartbeats can be driven by moving the clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.auth.scopes import Scope
from switchboard.config import load_settings
from switchboard.node import Node
from switchboard.realtime.frames import CloseCode
from switchboard.realtime.session import Connection
from switchboard.services import Services
from tests.realtime.test_eventlog import FakeClock

HEARTBEAT_S = 0.05


class MemoryTransport:
    """Frames in queues instead of a socket."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        if self.closed is not None:
            raise ConnectionError("closed")
        self.outbox.put_nowait(json.loads(text))

    async def receive(self) -> str | None:
        return await self.inbox.get()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def put(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), 5)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[Services, FakeClock]]:
    clock = FakeClock()
    settings = load_settings(
        overrides={
            "server": {"data_dir": tmp_path},
            "realtime": {"heartbeat_interval_s": HEARTBEAT_S},
        },
        environ={},
    )
    node = Node(settings, clock=clock)
    svc = await node.build()
    yield svc, clock
    await node.stop()


async def open_connection(
    svc: Services, token: str
) -> tuple[MemoryTransport, Connection, asyncio.Task[None]]:
    transport = MemoryTransport()
    connection = Connection(transport, svc.realtime, "memory")
    task = asyncio.create_task(connection.run())
    transport.put({"type": "auth", "token": token})
    ready = await transport.next()
    assert ready["type"] == "ready"
    return transport, connection, task


async def token_for(svc: Services, minutes: int = 60) -> tuple[str, str]:
    user = await svc.identity.create_user()
    issued = await svc.identity.issue_token(user, (Scope.CHAT,), minutes)
    return user.raw, issued.token


async def test_token_expiry_closes_with_its_own_code(
    services: tuple[Services, FakeClock],
) -> None:
    svc, clock = services
    _, token = await token_for(svc)
    transport, connection, task = await open_connection(svc, token)

    clock.now += 3600
    await asyncio.wait_for(task, 5)

    error = await transport.next()
    assert error == {
        "type": "error",
        "code": 4004,
        "message": "the access token has expired",
    }
    assert transport.closed == (4004, "the access token has expired")
    assert connection.close_code is CloseCode.TOKEN_EXPIRED


async def test_a_silent_client_is_closed_by_the_heartbeat(
    services: tuple[Services, FakeClock],
) -> None:
    svc, clock = services
    _, token = await token_for(svc)
    transport, connection, task = await open_connection(svc, token)

    clock.now += 3 * HEARTBEAT_S
    await asyncio.wait_for(task, 5)

    assert transport.closed is not None
    assert transport.closed[0] == 4006
    assert transport.closed[1].startswith("no frame from the client for")
    assert connection.close_code is CloseCode.HEARTBEAT_TIMEOUT


async def test_the_server_pings_and_a_pong_keeps_the_connection(
    services: tuple[Services, FakeClock],
) -> None:
    svc, clock = services
    _, token = await token_for(svc)
    transport, connection, task = await open_connection(svc, token)

    for _ in range(3):
        clock.now += 1.5 * HEARTBEAT_S
        ping = await transport.next()
        assert ping["type"] == "ping"
        transport.put({"type": "pong"})
        await asyncio.sleep(0)
    assert not task.done()
    assert connection.check(clock.now + HEARTBEAT_S) is None
    transport.inbox.put_nowait(None)
    await asyncio.wait_for(task, 5)


async def test_a_refreshed_token_outlives_the_first(
    services: tuple[Services, FakeClock],
) -> None:
    svc, clock = services
    user = await svc.identity.create_user()
    first = await svc.identity.issue_token(user, (Scope.CHAT,), 60)
    transport, connection, task = await open_connection(svc, first.token)

    clock.now += 1800
    second = await svc.identity.issue_token(user, (Scope.CHAT,), 60)
    transport.put({"type": "refresh", "token": second.token})
    refreshed = await transport.next()
    while refreshed["type"] == "ping":
        refreshed = await transport.next()
    assert refreshed["type"] == "refreshed"

    assert connection.check(first.expires_at + 1.0) is not None
    assert connection.principal is not None
    assert connection.principal.expires_at == second.expires_at
    transport.inbox.put_nowait(None)
    await asyncio.wait_for(task, 5)


async def test_a_refresh_for_another_user_closes(
    services: tuple[Services, FakeClock],
) -> None:
    svc, _ = services
    _, token = await token_for(svc)
    _, other = await token_for(svc)
    transport, _, task = await open_connection(svc, token)

    transport.put({"type": "refresh", "token": other})
    await asyncio.wait_for(task, 5)
    assert transport.closed == (4001, "the refreshed token is for another user")


async def test_notify_reaches_every_connection_of_the_user_in_order(
    services: tuple[Services, FakeClock],
) -> None:
    svc, _ = services
    alice, token = await token_for(svc)
    first, _, task1 = await open_connection(svc, token)
    second, _, task2 = await open_connection(svc, token)

    for n in range(3):
        await svc.realtime.notify([alice], "chatMessageReceived", {"n": n})
    for transport in (first, second):
        events = [await transport.next() for _ in range(3)]
        assert [(e["seq"], e["data"]["n"]) for e in events] == [(1, 0), (2, 1), (3, 2)]
        assert events[0]["data"]["recipient"] == {
            "kind": "communicationUser",
            "rawId": alice,
            "communicationUser": {"id": alice},
        }
    for transport in (first, second):
        transport.inbox.put_nowait(None)
    await asyncio.gather(task1, task2)
