"""What the realtime tests share: users with tokens, raw sockets, metrics."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from switchboard.client import ChatClient, Event, RealtimeClient, Resync
from switchboard.client.admin import IdentityAdmin
from tests.conftest import RunningServer

PATH = "/switchboard/v1/realtime"


async def new_user(
    server: RunningServer, scopes: tuple[str, ...] = ("chat",)
) -> tuple[str, str]:
    """A new user's raw id and a token for it."""
    async with IdentityAdmin(server.connection_string) as admin:
        issued = await admin.create_user_and_token(scopes)
    return issued.user_id, issued.token


async def revoke(server: RunningServer, user: str) -> None:
    """Revoke the user's tokens, as the trusted service would."""
    async with IdentityAdmin(server.connection_string) as admin:
        await admin.revoke_tokens(user)


async def delete(server: RunningServer, user: str) -> None:
    """Delete the user, as the trusted service would."""
    async with IdentityAdmin(server.connection_string) as admin:
        await admin.delete_user(user)


async def raw_socket(
    server: RunningServer, *, max_queue: int = 16, rcvbuf: int | None = None
) -> ClientConnection:
    """A plain WebSocket to the gateway over the HTTP port, nothing sent yet."""
    sock = None
    if rcvbuf is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so that the advertised window stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect(("127.0.0.1", server.http_port))
        sock.setblocking(False)
    return await connect(
        f"ws://127.0.0.1:{server.http_port}{PATH}",
        max_queue=max_queue,
        proxy=None,
        compression=None,
        sock=sock,
    )


async def authenticate(
    ws: ClientConnection,
    token: str,
    resume_from: int | None = None,
    stream: str | None = None,
) -> dict[str, Any]:
    """Send auth and return the ready frame."""
    frame: dict[str, Any] = {"type": "auth", "token": token}
    if resume_from is not None:
        frame["resumeFrom"] = resume_from
    if stream is not None:
        frame["stream"] = stream
    await ws.send(json.dumps(frame))
    ready: dict[str, Any] = json.loads(await ws.recv())
    return ready


async def frames_until_close(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every frame left on the socket, up to its close."""
    received = []
    try:
        async for text in ws:
            received.append(json.loads(text))
    except ConnectionClosedError:
        pass
    return received


async def metric(server: RunningServer, name: str) -> float:
    """The value of one unlabelled metric of the server."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{server.http_endpoint}/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def messages_until(
    client: RealtimeClient, thread_id: str, last: str
) -> list[Event | Resync]:
    """A thread's chatMessageReceived events (and any Resync) up to content `last`."""
    seen: list[Event | Resync] = []
    async for item in client.events():
        if isinstance(item, Resync):
            seen.append(item)
            continue
        if item.name == "chatMessageReceived" and item.data["threadId"] == thread_id:
            seen.append(item)
            if item.data["message"] == last:
                break
    return seen


async def messages_of(
    client: RealtimeClient, thread_id: str, count: int
) -> list[Event | Resync]:
    """The next `count` chatMessageReceived events of a thread, and any Resync."""
    seen: list[Event | Resync] = []
    received = 0
    async for item in client.events():
        if isinstance(item, Resync):
            seen.append(item)
            continue
        if item.name == "chatMessageReceived" and item.data["threadId"] == thread_id:
            seen.append(item)
            received += 1
            if received == count:
                break
    return seen


async def thread_with(
    server: RunningServer, owner_token: str, members: list[str], topic: str = "t"
) -> str:
    """A thread created by the token's user with the given members."""
    async with ChatClient(server.endpoint, owner_token) as chat:
        return await chat.create_thread(topic, members)
