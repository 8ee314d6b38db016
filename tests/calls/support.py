"""What the call tests share: voip users on a node, their realtime clients, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from switchboard.client import Event, RealtimeClient
from switchboard.client.admin import IdentityAdmin
from tests.conftest import RunningServer

GUARD_S = 20.0
"""How long a test waits for an event before it reports what arrived instead."""

V = "api-version=2026-12-01"


@dataclass
class User:
    """A user with a token and the realtime connections a test opened for it."""

    id: str
    token: str
    clients: list[RealtimeClient] = field(default_factory=list)


async def new_user(server: RunningServer, scopes: tuple[str, ...] = ("voip",)) -> User:
    """A new user of the node with a token of the given scopes."""
    async with IdentityAdmin(server.connection_string) as admin:
        issued = await admin.create_user_and_token(scopes)
    return User(issued.user_id, issued.token)


@asynccontextmanager
async def connected(
    server: RunningServer, user: User, count: int = 1
) -> AsyncIterator[list[RealtimeClient]]:
    """`count` open realtime connections of the user, closed afterwards."""
    clients = [
        RealtimeClient(server.http_endpoint, user.token, reconnect=False)
        for _ in range(count)
    ]
    try:
        for client in clients:
            await client.connect()
        yield clients
    finally:
        for client in clients:
            await client.close()


async def next_event(
    client: RealtimeClient, name: str, call_id: str | None = None
) -> dict[str, Any]:
    """The data of the next `name` event (of `call_id`, when given) on the client."""
    seen: list[str] = []

    async def find() -> dict[str, Any]:
        async for item in client.events():
            if not isinstance(item, Event):
                continue
            seen.append(item.name)
            if item.name == name and (
                call_id is None or item.data.get("callId") == call_id
            ):
                return item.data
        raise AssertionError(f"the connection ended before {name}; saw {seen}")

    try:
        return await asyncio.wait_for(find(), GUARD_S)
    except TimeoutError:
        raise AssertionError(f"no {name} arrived; saw {seen}") from None


async def events_until(
    client: RealtimeClient, last: str, call_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the call, in order, up to and including the first `last`."""
    seen: list[tuple[str, dict[str, Any]]] = []

    async def collect() -> None:
        async for item in client.events():
            if isinstance(item, Event) and item.data.get("callId") == call_id:
                seen.append((item.name, item.data))
                if item.name == last:
                    return

    try:
        await asyncio.wait_for(collect(), GUARD_S)
    except TimeoutError:
        raise AssertionError(f"no {last} arrived; saw {seen}") from None
    return seen


async def rest(server: RunningServer, token: str, path: str) -> httpx.Response:
    """GET a Switchboard route with the user's token."""
    async with httpx.AsyncClient() as http:
        return await http.get(
            f"{server.endpoint}{path}",
            headers={"Authorization": f"Bearer {token}"},
        )
