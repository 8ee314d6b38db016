"""The official azure-communication-chat aio client, over aiohttp, end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.communication.chat.aio import ChatClient, CommunicationTokenCredential
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from tests.conftest import RunningServer

AsyncUser = tuple[CommunicationUserIdentifier, ChatClient]


@pytest.fixture
async def users(
    server: RunningServer,
) -> AsyncIterator[Callable[..., AsyncUser]]:
    """Users with chat tokens, each with an aio ChatClient."""
    identity = CommunicationIdentityClient.from_connection_string(
        server.connection_string
    )
    async with AsyncExitStack() as stack:

        def make(scopes: tuple[str, ...] = ("chat",)) -> AsyncUser:
            user, token = identity.create_user_and_token(list(scopes))
            client = ChatClient(
                server.endpoint, CommunicationTokenCredential(token.token)
            )
            stack.push_async_callback(client.close)
            return user, client

        yield make


async def test_full_conversation(users: Callable[..., AsyncUser]) -> None:
    alice, alice_client = users()
    bob, bob_client = users()

    created = await alice_client.create_chat_thread(
        "Async", thread_participants=[ChatParticipant(identifier=bob, display_name="B")]
    )
    thread_id = created.chat_thread.id
    assert created.errors == []
    mine = alice_client.get_chat_thread_client(thread_id)
    theirs = bob_client.get_chat_thread_client(thread_id)

    sent = await mine.send_message(
        "<b>bold</b> 🚀", chat_message_type="html", metadata={"a": "1", "b": "2"}
    )
    await theirs.send_typing_notification(sender_display_name="B")
    await theirs.send_read_receipt(sent.id)
    await mine.update_message(sent.id, content="<i>edited</i>", metadata={"a": None})
    message = await theirs.get_message(sent.id)
    assert message.content.message == "<i>edited</i>"
    assert message.metadata == {"b": "2"}
    assert message.edited_on is not None

    receipts = [r async for r in mine.list_read_receipts()]
    assert [(r.sender.raw_id, r.chat_message_id) for r in receipts] == [
        (bob.raw_id, sent.id)
    ]
    await mine.update_topic("Renamed")
    assert (await theirs.get_properties()).topic == "Renamed"
    participants = [p.identifier.raw_id async for p in theirs.list_participants()]
    assert sorted(participants) == sorted([alice.raw_id, bob.raw_id])
    threads = [t.id async for t in bob_client.list_chat_threads()]
    assert thread_id in threads

    await mine.delete_message(sent.id)
    assert (await theirs.get_message(sent.id)).deleted_on is not None
    await mine.remove_participant(bob)
    with pytest.raises(HttpResponseError) as caught:
        await theirs.get_properties()
    assert caught.value.status_code == 403

    await alice_client.delete_chat_thread(thread_id)
    with pytest.raises(ResourceNotFoundError):
        await mine.get_properties()


async def test_idempotent_create_and_conflict(users: Callable[..., AsyncUser]) -> None:
    _, client = users()
    token = str(uuid.uuid4())

    first, again = await asyncio.gather(
        client.create_chat_thread("Same", idempotency_token=token),
        client.create_chat_thread("Same", idempotency_token=token),
    )

    assert first.chat_thread.id == again.chat_thread.id
    with pytest.raises(ResourceExistsError):
        await client.create_chat_thread("Other", idempotency_token=token)


async def test_paging_while_a_task_keeps_sending(
    users: Callable[..., AsyncUser],
) -> None:
    _, alice_client = users()
    bob, bob_client = users()
    thread_id = (
        await alice_client.create_chat_thread(
            "Busy", thread_participants=[ChatParticipant(identifier=bob)]
        )
    ).chat_thread.id
    sender = alice_client.get_chat_thread_client(thread_id)
    reader = bob_client.get_chat_thread_client(thread_id)
    for i in range(30):
        await sender.send_message(f"old {i}")

    paging = asyncio.Event()
    sent_while_paging = 0

    async def keep_sending() -> None:
        nonlocal sent_while_paging
        await paging.wait()
        while paging.is_set():
            await sender.send_message("new")
            sent_while_paging += 1

    task = asyncio.create_task(keep_sending())
    seen: list[int] = []
    async for page in reader.list_messages(results_per_page=4).by_page():
        paging.set()
        seen += [int(m.sequence_id) async for m in page]
        await asyncio.sleep(0)
    paging.clear()
    await task

    assert len(seen) == len(set(seen))
    assert seen == list(range(seen[0], 0, -1))
    assert seen[0] >= 32
    total = [m async for m in reader.list_messages()]
    assert len(total) == 32 + sent_while_paging


async def test_errors_map_to_sdk_exceptions(
    users: Callable[..., AsyncUser], server: RunningServer
) -> None:
    alice, alice_client = users()
    _, voip_client = users(("voip",))
    _, outsider = users()
    thread_id = (await alice_client.create_chat_thread("Errors")).chat_thread.id

    with pytest.raises(HttpResponseError) as caught:
        await voip_client.create_chat_thread("no")
    assert caught.value.status_code == 403
    with pytest.raises(HttpResponseError) as caught:
        await outsider.get_chat_thread_client(thread_id).send_message("hi")
    assert caught.value.status_code == 403
    with pytest.raises(HttpResponseError) as caught:
        await alice_client.get_chat_thread_client(thread_id).send_message("x" * 30000)
    assert caught.value.status_code == 400

    identity = CommunicationIdentityClient.from_connection_string(
        server.connection_string
    )
    identity.revoke_tokens(alice)
    with pytest.raises(ClientAuthenticationError):
        await alice_client.get_chat_thread_client(thread_id).get_properties()


async def test_system_messages_reach_the_async_reader(
    users: Callable[..., AsyncUser],
) -> None:
    _, client = users()
    thread_id = (await client.create_chat_thread("Sys")).chat_thread.id

    kinds = [
        m.type async for m in client.get_chat_thread_client(thread_id).list_messages()
    ]

    assert kinds == [ChatMessageType.PARTICIPANT_ADDED, ChatMessageType.TOPIC_UPDATED]
