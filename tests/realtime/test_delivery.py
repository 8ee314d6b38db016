"""Chat events through the gateway: order, resume, resync and slow consumers."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.client import ChatClient, Event, RealtimeClient, Resync
from tests.conftest import RunningServer, start_server
from tests.realtime.support import (
    authenticate,
    frames_until_close,
    messages_of,
    messages_until,
    metric,
    new_user,
    raw_socket,
    thread_with,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A node with a short resume window and small send buffers."""
    node = start_server(
        Path(tmp_path_factory.mktemp("realtime-small")),
        env={
            "SWITCHBOARD_REALTIME_RETENTION_EVENTS": "20",
            "SWITCHBOARD_REALTIME_SEND_BUFFER_FRAMES": "8",
        },
    )
    yield node
    node.stop()


SLOW = "switchboard_realtime_slow_consumers_total"


def contents(items: list[Event | Resync]) -> list[str]:
    return [i.data["message"] for i in items if isinstance(i, Event)]


def assert_contiguous(items: list[Event | Resync]) -> None:
    seqs = [i.seq for i in items]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_every_member_gets_a_threads_messages_in_order(
    server: RunningServer,
) -> None:
    users = [await new_user(server) for _ in range(4)]
    (_, owner_token), *others = users
    thread = await thread_with(server, owner_token, [u for u, _ in others])
    clients = [RealtimeClient(server.endpoint, token) for _, token in users]
    for client in clients:
        await client.connect()

    async def send_all() -> None:
        async with ChatClient(server.endpoint, others[0][1]) as chat:
            for n in range(30):
                await chat.send_message(thread, f"m{n}", sender_display_name="Ann")

    receiving = [asyncio.create_task(messages_of(c, thread, 30)) for c in clients]
    await send_all()
    received = await asyncio.wait_for(asyncio.gather(*receiving), 60)
    for client in clients:
        await client.close()

    for items in received:
        assert contents(items) == [f"m{n}" for n in range(30)]
        assert_contiguous(items)
        first = items[0]
        assert isinstance(first, Event)
        assert first.data["threadId"] == thread
        assert first.data["senderDisplayName"] == "Ann"
        assert first.data["sender"]["rawId"] == others[0][0]


async def test_resume_after_a_dropped_connection_has_no_gap_and_no_repeat(
    server: RunningServer,
) -> None:
    (reader, reader_token), (_, writer_token) = [
        await new_user(server) for _ in range(2)
    ]
    thread = await thread_with(server, writer_token, [reader])
    client = RealtimeClient(server.endpoint, reader_token)
    await client.connect()

    async with ChatClient(server.endpoint, writer_token) as chat:
        for n in range(5):
            await chat.send_message(thread, f"m{n}")
        before = await messages_of(client, thread, 5)
        await client.drop()
        for n in range(5, 15):
            await chat.send_message(thread, f"m{n}")
        after = await messages_of(client, thread, 10)
    await client.close()

    assert client.connects == 2
    assert client.ready is not None
    assert client.ready.resumed is True
    assert client.ready.replayed == 10
    assert client.ready.seq == before[-1].seq
    assert contents(before + after) == [f"m{n}" for n in range(15)]
    assert_contiguous(before + after)


async def test_resume_beyond_the_window_gets_a_resync(small: RunningServer) -> None:
    (reader, reader_token), (_, writer_token) = [
        await new_user(small) for _ in range(2)
    ]
    thread = await thread_with(small, writer_token, [reader])
    client = RealtimeClient(small.endpoint, reader_token)
    ready = await client.connect()
    await client.drop()

    async with ChatClient(small.endpoint, writer_token) as chat:
        for n in range(25):
            await chat.send_message(thread, f"m{n}")
        items = client.events()
        resync = await anext(items)
        await chat.send_message(thread, "after")
        following = await anext(items)
        await items.aclose()
    async with ChatClient(small.endpoint, reader_token) as chat:
        history = await chat.list_messages(thread)
    await client.close()

    assert isinstance(resync, Resync)
    assert resync.seq == ready.seq + 25
    assert resync.reason == "the events after resumeFrom are no longer kept"
    assert client.ready is not None
    assert client.ready.resumed is False
    assert isinstance(following, Event)
    assert following.seq == resync.seq + 1
    assert following.data["message"] == "after"
    texts = [m["content"]["message"] for m in history if m["type"] == "text"]
    assert texts == ["after", *[f"m{n}" for n in reversed(range(25))]]


async def test_a_resume_number_ahead_of_the_stream_gets_a_resync(
    small: RunningServer,
) -> None:
    _, token = await new_user(small)
    ws = await raw_socket(small)
    ready = await authenticate(ws, token, resume_from=99)
    resync = json.loads(await ws.recv())
    await ws.close()
    assert (ready["resumed"], ready["seq"]) == (False, 0)
    assert resync == {
        "type": "resync",
        "seq": 0,
        "reason": "the events after resumeFrom are no longer kept",
    }


async def test_a_client_that_stops_reading_is_closed_and_others_keep_receiving(
    small: RunningServer,
) -> None:
    users = [await new_user(small) for _ in range(3)]
    (_, slow_token), (_, fast_token), (_, writer_token) = users
    thread = await thread_with(small, writer_token, [u for u, _ in users[:2]])
    fast = RealtimeClient(small.endpoint, fast_token)
    await fast.connect()
    # The slow client reads its ready frame, then nothing more.
    slow = await raw_socket(small, max_queue=1, rcvbuf=4096)
    await authenticate(slow, slow_token)

    # Incompressible text near the size limit, sent until the server gives up on
    # the slow client: the operating system buffers a few megabytes first.
    receiving = asyncio.create_task(messages_until(fast, thread, "last"))
    sent = 0
    async with ChatClient(small.endpoint, writer_token) as chat:
        while await metric(small, SLOW) < 1 and sent < 600:
            for _ in range(10):
                await chat.send_message(thread, f"m{sent} " + os.urandom(13_000).hex())
                sent += 1
        await chat.send_message(thread, "last")
    items = await asyncio.wait_for(receiving, 60)
    leftover = await asyncio.wait_for(frames_until_close(slow), 30)
    await fast.close()

    expected = [*(f"m{n}" for n in range(sent)), "last"]
    assert [t.split(" ")[0] for t in contents(items)] == expected
    assert_contiguous(items)
    assert fast.connects == 1
    assert slow.close_code == 4007
    assert slow.close_reason == "the client does not read fast enough"
    assert leftover[-1] == {
        "type": "error",
        "code": 4007,
        "message": "the client does not read fast enough",
    }
    delivered = [f for f in leftover if f["type"] == "event"]
    assert len(delivered) < sent


async def test_numbers_from_another_stream_get_a_resync(server: RunningServer) -> None:
    (reader, reader_token), (_, writer_token) = [
        await new_user(server) for _ in range(2)
    ]
    thread = await thread_with(server, writer_token, [reader])
    async with ChatClient(server.endpoint, writer_token) as chat:
        await chat.send_message(thread, "m0")
    ws = await raw_socket(server)
    first = await authenticate(ws, reader_token)
    await ws.close()

    # The same number in this node's stream replays; in another, it resyncs.
    ws = await raw_socket(server)
    same = await authenticate(ws, reader_token, 0, first["stream"])
    replayed = [json.loads(await ws.recv()) for _ in range(same["replayed"])]
    await ws.close()
    ws = await raw_socket(server)
    other = await authenticate(ws, reader_token, 0, "m-from-before-a-restart")
    resync = json.loads(await ws.recv())
    await ws.close()

    assert (same["resumed"], same["seq"]) == (True, 0)
    assert [f["event"] for f in replayed] == [
        "chatThreadCreated",
        "chatMessageReceived",
    ]
    assert (other["resumed"], other["seq"]) == (False, first["seq"])
    assert resync == {
        "type": "resync",
        "seq": first["seq"],
        "reason": "the events after resumeFrom are no longer kept",
    }
