"""Threads through the official sync ChatClient: create, list, get, topic, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.chat import ChatMessageType, ChatParticipant
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

from tests.chat.conftest import ChatUser, UserFactory, error_of, thread_path

STRANGER_ID = (
    "8:acs:00000000-0000-0000-0000-000000000000_11111111-1111-1111-1111-111111111111"
)


def test_create_thread_makes_the_caller_a_participant(
    alice: ChatUser, bob: ChatUser
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    result = alice.client.create_chat_thread(
        "Lunch", thread_participants=[bob.participant("Bob")]
    )

    thread = result.chat_thread
    assert thread.id.startswith("19:") and thread.id.endswith("@thread.v2")
    assert thread.topic == "Lunch"
    assert thread.created_by.raw_id == alice.raw_id
    assert thread.created_on >= before
    assert result.errors == []
    members = {
        p.identifier.raw_id: p for p in alice.thread(thread.id).list_participants()
    }
    assert set(members) == {alice.raw_id, bob.raw_id}
    assert members[bob.raw_id].display_name == "Bob"
    assert bob.thread(thread.id).get_properties().topic == "Lunch"


def test_new_thread_history_starts_with_system_messages(alice: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("Start").chat_thread.id

    messages = list(alice.thread(thread_id).list_messages())

    assert [m.type for m in messages] == [
        ChatMessageType.PARTICIPANT_ADDED,
        ChatMessageType.TOPIC_UPDATED,
    ]
    added, topic = messages
    assert [int(m.sequence_id) for m in messages] == [2, 1]
    assert topic.content.topic == "Start"
    assert topic.content.initiator.raw_id == alice.raw_id
    assert [p.identifier.raw_id for p in added.content.participants] == [alice.raw_id]
    assert added.sender is None


def test_idempotent_create_replays_the_first_result(
    alice: ChatUser, bob: ChatUser
) -> None:
    token = str(uuid.uuid4())
    first = alice.client.create_chat_thread(
        "Once", thread_participants=[bob.participant()], idempotency_token=token
    )
    again = alice.client.create_chat_thread(
        "Once", thread_participants=[bob.participant()], idempotency_token=token
    )

    assert again.chat_thread.id == first.chat_thread.id
    assert again.chat_thread.created_on == first.chat_thread.created_on
    threads = [t.id for t in alice.client.list_chat_threads()]
    assert threads.count(first.chat_thread.id) == 1

    with pytest.raises(ResourceExistsError) as caught:
        alice.client.create_chat_thread("Twice", idempotency_token=token)
    assert caught.value.status_code == 409
    assert caught.value.error.code == "Conflict"
    assert "already used for a different request" in caught.value.error.message

    # Request ids belong to the caller: Bob's own use of it is a new thread.
    other = bob.client.create_chat_thread("Once", idempotency_token=token)
    assert other.chat_thread.id != first.chat_thread.id


def test_invalid_participants_are_listed_by_raw_id(
    alice: ChatUser, bob: ChatUser
) -> None:
    stranger = ChatParticipant(identifier=CommunicationUserIdentifier(STRANGER_ID))
    result = alice.client.create_chat_thread(
        "Mixed", thread_participants=[bob.participant(), stranger]
    )

    assert len(result.errors) == 1
    participant, error = result.errors[0]
    assert participant.identifier.raw_id == STRANGER_ID
    assert error.target == STRANGER_ID
    assert error.code == "Forbidden"
    assert error.message == "the user belongs to another resource"
    members = {
        p.identifier.raw_id
        for p in alice.thread(result.chat_thread.id).list_participants()
    }
    assert members == {alice.raw_id, bob.raw_id}


def test_deleted_user_cannot_be_added(
    alice: ChatUser, make_user: UserFactory, identity: CommunicationIdentityClient
) -> None:
    gone = make_user()
    identity.delete_user(gone.identifier)
    thread_id = alice.client.create_chat_thread("Adds").chat_thread.id

    failures = alice.thread(thread_id).add_participants([gone.participant()])

    assert [(p.identifier.raw_id, e.target, e.code) for p, e in failures] == [
        (gone.raw_id, gone.raw_id, "NotFound")
    ]

    # A well-formed id of this resource that was never created.
    resource = alice.raw_id.removeprefix("8:acs:").split("_")[0]
    never = f"8:acs:{resource}_{uuid.uuid4()}"
    failures = alice.thread(thread_id).add_participants(
        [ChatParticipant(identifier=CommunicationUserIdentifier(never))]
    )
    assert [(e.target, e.code, e.message) for _, e in failures] == [
        (never, "NotFound", "the user does not exist")
    ]


def test_list_threads_pages_newest_first(alice: ChatUser) -> None:
    made = [alice.client.create_chat_thread(f"T{i}").chat_thread.id for i in range(5)]

    pages = alice.client.list_chat_threads(results_per_page=2).by_page()
    seen = [[t.id for t in page] for page in pages]

    assert [len(page) for page in seen] == [2, 2, 1]
    assert [t for page in seen for t in page] == list(reversed(made))


def test_list_threads_start_time_filters_by_last_message(alice: ChatUser) -> None:
    old = alice.client.create_chat_thread("Old").chat_thread.id
    future = datetime.now(UTC) + timedelta(hours=1)

    assert list(alice.client.list_chat_threads(start_time=future)) == []
    recent = datetime.now(UTC) - timedelta(minutes=5)
    assert old in [t.id for t in alice.client.list_chat_threads(start_time=recent)]


def test_update_topic_records_a_system_message(alice: ChatUser, bob: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread(
        "Before", thread_participants=[bob.participant()]
    ).chat_thread.id

    bob.thread(thread_id).update_topic("After")

    assert alice.thread(thread_id).get_properties().topic == "After"
    newest = next(iter(alice.thread(thread_id).list_messages()))
    assert newest.type == ChatMessageType.TOPIC_UPDATED
    assert newest.content.topic == "After"
    assert newest.content.initiator.raw_id == bob.raw_id


def test_empty_topic_is_refused(alice: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("Topic").chat_thread.id

    answer = alice.http("PATCH", thread_path(thread_id), json={"topic": ""})

    assert error_of(answer) == (
        400,
        "InvalidRequestBody",
        "the topic must be a non-empty string",
    )


def test_deleted_thread_is_gone_for_everyone(alice: ChatUser, bob: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread(
        "Doomed", thread_participants=[bob.participant()]
    ).chat_thread.id

    alice.client.delete_chat_thread(thread_id)

    with pytest.raises(ResourceNotFoundError) as caught:
        bob.thread(thread_id).get_properties()
    assert caught.value.error.message == f"the chat thread {thread_id} does not exist"
    with pytest.raises(ResourceNotFoundError):
        bob.thread(thread_id).send_message("anyone?")
    assert thread_id not in [t.id for t in bob.client.list_chat_threads()]


def test_non_participant_is_forbidden(alice: ChatUser, bob: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("Private").chat_thread.id
    outsider = bob.thread(thread_id)

    for call in (
        outsider.get_properties,
        lambda: outsider.send_message("hi"),
        lambda: list(outsider.list_messages()),
        lambda: list(outsider.list_participants()),
        lambda: outsider.update_topic("mine"),
        lambda: outsider.send_typing_notification(),
    ):
        with pytest.raises(HttpResponseError) as caught:
            call()
        assert caught.value.status_code == 403
        assert caught.value.error.code == "Forbidden"
        assert (
            caught.value.error.message
            == "the caller is not a participant of this chat thread"
        )


def test_unknown_thread_is_not_found(alice: ChatUser) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        alice.thread("19:nothing@thread.v2").get_properties()
    assert caught.value.error.target == "chatThreadId"


def test_revoked_token_is_unauthenticated(
    alice: ChatUser, identity: CommunicationIdentityClient
) -> None:
    thread_id = alice.client.create_chat_thread("Soon revoked").chat_thread.id
    identity.revoke_tokens(alice.identifier)

    with pytest.raises(ClientAuthenticationError) as caught:
        alice.thread(thread_id).get_properties()
    assert caught.value.status_code == 401
    assert caught.value.error.message == "the access token has been revoked"


def test_voip_token_is_forbidden(make_user: UserFactory) -> None:
    caller = make_user(("voip",))

    with pytest.raises(HttpResponseError) as caught:
        caller.client.create_chat_thread("Calls only")
    assert caught.value.status_code == 403
    assert caught.value.error.message == (
        "the access token needs the chat or chat.join or chat.join.limited scope"
    )


def test_chat_join_scopes_cannot_manage(
    alice: ChatUser, make_user: UserFactory
) -> None:
    joiner = make_user(("chat.join",))
    limited = make_user(("chat.join.limited",))
    thread_id = alice.client.create_chat_thread(
        "Managed", thread_participants=[joiner.participant(), limited.participant()]
    ).chat_thread.id

    with pytest.raises(HttpResponseError) as caught:
        joiner.client.create_chat_thread("Mine")
    assert caught.value.status_code == 403
    assert caught.value.error.message == (
        "a token with the scopes chat.join may not create chat threads"
    )
    with pytest.raises(HttpResponseError) as caught:
        limited.thread(thread_id).remove_participant(joiner.identifier)
    assert caught.value.error.message == (
        "a token with the scopes chat.join.limited may not remove chat participants"
    )

    # chat.join may still talk and manage people; chat.join.limited may talk.
    joiner.thread(thread_id).remove_participant(limited.identifier)
    joiner.thread(thread_id).send_message("still here")
    assert limited.raw_id not in {
        p.identifier.raw_id for p in alice.thread(thread_id).list_participants()
    }
