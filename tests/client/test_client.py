"""The Python client SDK against a real node: chat calls and realtime events."""

from __future__ import annotations

import pytest

from switchboard.client import (
    ChatClient,
    ChatError,
    Event,
    RealtimeClient,
    RealtimeClosed,
    realtime_url,
)
from tests.conftest import RunningServer
from tests.realtime.support import new_user, revoke, thread_with


def test_realtime_urls_follow_the_endpoint_scheme() -> None:
    assert realtime_url("https://localhost:8443/") == (
        "wss://localhost:8443/switchboard/v1/realtime"
    )
    assert realtime_url("http://127.0.0.1:8080") == (
        "ws://127.0.0.1:8080/switchboard/v1/realtime"
    )
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        realtime_url("ftp://host")


async def next_event(client: RealtimeClient, name: str) -> Event:
    async for item in client.events():
        if isinstance(item, Event) and item.name == name:
            return item
    raise AssertionError("the events ended")


async def test_chat_calls_and_the_events_they_cause(server: RunningServer) -> None:
    (reader, reader_token), (writer, writer_token) = [
        await new_user(server) for _ in range(2)
    ]
    thread = await thread_with(server, writer_token, [reader], topic="Client")
    realtime = RealtimeClient(server.endpoint, reader_token)
    await realtime.connect()

    async with ChatClient(server.endpoint, writer_token) as chat:
        first = await chat.send_message(
            thread,
            "<p>hi <em>there</em></p>",
            type="html",
            sender_display_name="Wes",
            metadata={"k": "v"},
        )
        received = await next_event(realtime, "chatMessageReceived")
        await chat.send_typing(thread, "Wes")
        typing = await next_event(realtime, "typingIndicatorReceived")
        await chat.send_read_receipt(thread, first)
        receipt = await next_event(realtime, "readReceiptReceived")
        for n in range(4):
            await chat.send_message(thread, f"m{n}")
        history = await chat.list_messages(thread, max_page_size=2)
    await realtime.close()

    assert received.data["id"] == first
    assert received.data["type"] == "html"
    assert received.data["message"] == "<p>hi <em>there</em></p>"
    assert received.data["metadata"] == {"k": "v"}
    assert received.data["recipient"]["rawId"] == reader
    assert typing.data["sender"]["rawId"] == writer
    assert typing.data["senderDisplayName"] == "Wes"
    assert receipt.data["chatMessageId"] == first
    assert typing.seq == received.seq + 1
    assert receipt.seq == typing.seq + 1
    sent = [m for m in history if m["type"] in ("text", "html")]
    assert [m["content"]["message"] for m in sent] == [
        "m3",
        "m2",
        "m1",
        "m0",
        "<p>hi <em>there</em></p>",
    ]


async def test_a_chat_error_carries_the_acs_error(server: RunningServer) -> None:
    _, owner_token = await new_user(server)
    _, stranger_token = await new_user(server)
    thread = await thread_with(server, owner_token, [])
    async with ChatClient(server.endpoint, stranger_token) as chat:
        with pytest.raises(ChatError) as caught:
            await chat.send_message(thread, "let me in")
    assert caught.value.status == 403
    assert caught.value.code == "Forbidden"


async def test_a_token_function_is_asked_on_every_connect(
    server: RunningServer,
) -> None:
    _, token = await new_user(server)
    asked = 0

    async def current_token() -> str:
        nonlocal asked
        asked += 1
        return token

    client = RealtimeClient(server.endpoint, current_token)
    await client.connect()
    await client.drop()
    items = client.events()
    async with ChatClient(server.endpoint, token) as chat:
        thread = await chat.create_thread("Reconnect", [])
        event = await anext(items)
    await items.aclose()
    await client.close()

    assert asked == 2
    assert client.connects == 2
    assert isinstance(event, Event)
    assert event.name == "chatThreadCreated"
    assert event.data["threadId"] == thread


async def test_a_revoked_token_ends_the_events_with_the_close_code(
    server: RunningServer,
) -> None:
    user, token = await new_user(server)
    client = RealtimeClient(server.endpoint, token)
    await client.connect()
    await revoke(server, user)
    with pytest.raises(RealtimeClosed) as caught:
        async for _ in client.events():
            pass
    await client.close()
    assert caught.value.code == 4005
    assert caught.value.reason == "the access token has been revoked"


async def test_a_refreshed_token_keeps_the_connection(server: RunningServer) -> None:
    from tests.realtime.support import IdentityAdmin

    user, token = await new_user(server)
    async with IdentityAdmin(server.connection_string) as admin:
        other_user = await admin.create_user_and_token()
    client = RealtimeClient(server.endpoint, token)
    await client.connect()
    await client.refresh(token)
    items = client.events()
    async with ChatClient(server.endpoint, token) as chat:
        thread = await chat.create_thread("Still here", [other_user.user_id])
        event = await anext(items)
    await items.aclose()
    await client.close()
    assert client.connects == 1
    assert isinstance(event, Event)
    assert event.data["threadId"] == thread
    assert user != other_user.user_id
