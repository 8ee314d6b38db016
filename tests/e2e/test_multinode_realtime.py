"""Realtime across two nodes on one PostgreSQL database and one Redis."""

from __future__ import annotations

import asyncio

from switchboard.client import ChatClient, RealtimeClient
from tests.conftest import REDIS_URL, RunningServer
from tests.realtime.support import (
    authenticate,
    frames_until_close,
    messages_of,
    new_user,
    raw_socket,
    revoke,
    thread_with,
)


def two_nodes(server_factory: type, postgres_url: str) -> tuple[RunningServer, ...]:
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    return server_factory.start(*shared), server_factory.start(*shared)


async def test_a_message_sent_through_one_node_reaches_sockets_on_both(
    server_factory: type, postgres_url: str
) -> None:
    a, b = two_nodes(server_factory, postgres_url)
    (reader, reader_token), (_, writer_token) = [await new_user(a) for _ in range(2)]
    thread = await thread_with(a, writer_token, [reader])
    on_b = RealtimeClient(b.endpoint, reader_token)
    on_a = RealtimeClient(a.endpoint, reader_token)
    await on_b.connect()
    await on_a.connect()

    receiving = [asyncio.create_task(messages_of(c, thread, 10)) for c in (on_a, on_b)]
    async with ChatClient(a.endpoint, writer_token) as chat:
        for n in range(10):
            await chat.send_message(thread, f"m{n}")
    got_a, got_b = await asyncio.wait_for(asyncio.gather(*receiving), 30)
    await on_a.close()
    await on_b.close()

    expected = [f"m{n}" for n in range(10)]
    assert [e.data["message"] for e in got_b] == expected
    # The user's stream is numbered once for the deployment, not per node.
    assert [(e.seq, e.data["message"]) for e in got_a] == [
        (e.seq, e.data["message"]) for e in got_b
    ]


async def test_a_client_dropped_by_one_node_resumes_on_the_other(
    server_factory: type, postgres_url: str
) -> None:
    a, b = two_nodes(server_factory, postgres_url)
    (reader, reader_token), (_, writer_token) = [await new_user(a) for _ in range(2)]
    thread = await thread_with(b, writer_token, [reader])
    first = RealtimeClient(a.endpoint, reader_token)
    await first.connect()

    async with ChatClient(a.endpoint, writer_token) as chat:
        for n in range(3):
            await chat.send_message(thread, f"m{n}")
        before = await messages_of(first, thread, 3)
        await first.drop()
        await first.close()
        for n in range(3, 8):
            await chat.send_message(thread, f"m{n}")

    second = RealtimeClient(b.endpoint, reader_token)
    second.last_seq, second.stream = first.last_seq, first.stream
    ready = await second.connect()
    after = await messages_of(second, thread, 5)
    await second.close()

    assert ready.resumed is True
    assert ready.stream == first.stream
    assert ready.stream.startswith("r-")
    assert ready.seq == before[-1].seq
    assert ready.replayed == 5
    items = before + after
    assert [e.data["message"] for e in items] == [f"m{n}" for n in range(8)]
    assert [e.seq for e in items] == list(range(items[0].seq, items[0].seq + 8))


async def test_revocation_through_one_node_closes_the_socket_on_the_other(
    server_factory: type, postgres_url: str
) -> None:
    a, b = two_nodes(server_factory, postgres_url)
    user, token = await new_user(a)
    ws = await raw_socket(b)
    await authenticate(ws, token)

    await revoke(a, user)
    await asyncio.wait_for(frames_until_close(ws), 10)

    assert ws.close_code == 4005
    assert ws.close_reason == "the access token has been revoked"
