"""Participants through the official sync client: list, add, remove, history."""

from __future__ import annotations

from typing import Any

import pytest
from azure.communication.chat import (
    ChatClient,
    ChatMessageType,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.chat.conftest import QUICK_STOP, ChatUser, UserFactory, error_of, thread_path


def test_participants_page_with_skip_and_next_link(
    alice: ChatUser, make_user: UserFactory
) -> None:
    others = [make_user() for _ in range(4)]
    thread_id = alice.client.create_chat_thread(
        "Crowd",
        thread_participants=[u.participant(f"U{i}") for i, u in enumerate(others)],
    ).chat_thread.id
    thread = alice.thread(thread_id)

    pages = [
        [p.identifier.raw_id for p in page]
        for page in thread.list_participants(results_per_page=2).by_page()
    ]
    skipped = [p.identifier.raw_id for p in thread.list_participants(skip=3)]

    assert [len(page) for page in pages] == [2, 2, 1]
    everyone = [raw for page in pages for raw in page]
    assert sorted(everyone) == sorted([alice.raw_id, *(u.raw_id for u in others)])
    assert skipped == everyone[3:]


def test_added_participant_joins_and_is_announced(
    alice: ChatUser, bob: ChatUser
) -> None:
    thread_id = alice.client.create_chat_thread("Join").chat_thread.id

    failures = alice.thread(thread_id).add_participants([bob.participant("Bob")])

    assert failures == []
    assert bob.thread(thread_id).get_properties().topic == "Join"
    newest = next(iter(bob.thread(thread_id).list_messages()))
    assert newest.type == ChatMessageType.PARTICIPANT_ADDED
    assert [p.identifier.raw_id for p in newest.content.participants] == [bob.raw_id]
    assert newest.content.participants[0].display_name == "Bob"
    assert newest.content.initiator.raw_id == alice.raw_id


def test_removed_participant_loses_access_at_once(
    alice: ChatUser, bob: ChatUser
) -> None:
    thread_id = alice.client.create_chat_thread(
        "Leaving", thread_participants=[bob.participant()]
    ).chat_thread.id
    bob.thread(thread_id).send_message("bye")

    alice.thread(thread_id).remove_participant(bob.identifier)

    with pytest.raises(HttpResponseError) as caught:
        bob.thread(thread_id).send_message("still here?")
    assert caught.value.status_code == 403
    with pytest.raises(HttpResponseError) as caught:
        list(bob.thread(thread_id).list_messages())
    assert caught.value.status_code == 403
    newest = next(iter(alice.thread(thread_id).list_messages()))
    assert newest.type == ChatMessageType.PARTICIPANT_REMOVED
    assert [p.identifier.raw_id for p in newest.content.participants] == [bob.raw_id]


def test_removing_a_non_participant_changes_nothing(
    alice: ChatUser, bob: ChatUser
) -> None:
    thread_id = alice.client.create_chat_thread("Alone").chat_thread.id
    before = [m.id for m in alice.thread(thread_id).list_messages()]

    alice.thread(thread_id).remove_participant(bob.identifier)

    assert [m.id for m in alice.thread(thread_id).list_messages()] == before


def test_share_history_time_limits_what_a_newcomer_sees(
    alice: ChatUser, bob: ChatUser
) -> None:
    thread_id = alice.client.create_chat_thread("History").chat_thread.id
    thread = alice.thread(thread_id)
    early = thread.send_message("before").id
    late = thread.send_message("after").id
    shared_from = thread.get_message(late).created_on

    thread.add_participants([bob.participant(share_history_time=shared_from)])

    seen = [m.id for m in bob.thread(thread_id).list_messages()]
    added = next(iter(thread.list_messages())).id
    assert seen == [added, late]
    with pytest.raises(ResourceNotFoundError) as caught:
        bob.thread(thread_id).get_message(early)
    assert caught.value.error.target == "chatMessageId"
    listed = {
        p.identifier.raw_id: p.share_history_time for p in thread.list_participants()
    }
    assert listed[bob.raw_id] == shared_from
    assert listed[alice.raw_id].year == 1970


def test_readding_updates_name_without_a_second_announcement(
    alice: ChatUser, bob: ChatUser
) -> None:
    thread_id = alice.client.create_chat_thread(
        "Names", thread_participants=[bob.participant("B")]
    ).chat_thread.id
    before = len(list(alice.thread(thread_id).list_messages()))

    alice.thread(thread_id).add_participants([bob.participant("Robert")])

    names = {
        p.identifier.raw_id: p.display_name
        for p in alice.thread(thread_id).list_participants()
    }
    assert names[bob.raw_id] == "Robert"
    assert len(list(alice.thread(thread_id).list_messages())) == before


def test_phone_numbers_cannot_join(alice: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("Phones").chat_thread.id
    body = {
        "participants": [
            {
                "communicationIdentifier": {
                    "rawId": "4:+15551234567",
                    "phoneNumber": {"value": "+15551234567"},
                }
            }
        ]
    }

    answer = alice.http("POST", thread_path(thread_id, "participants/:add"), json=body)

    assert answer.status_code == 201
    assert answer.json() == {
        "invalidParticipants": [
            {
                "code": "NotSupported",
                "message": "only communication users of this resource can join a "
                "chat thread",
                "target": "4:+15551234567",
            }
        ]
    }


def test_malformed_identifier_is_a_bad_request(alice: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("Ids").chat_thread.id

    answer = alice.http(
        "POST",
        thread_path(thread_id, "participants/:remove"),
        json={"rawId": "8:acs:a_b", "communicationUser": {"id": "8:acs:c_d"}},
    )

    assert error_of(answer) == (
        400,
        "InvalidRequestBody",
        "body.rawId and body.communicationUser.id name different users",
    )


def test_participant_limits(server_factory: Any) -> None:
    node = server_factory.start(
        env={
            "SWITCHBOARD_CHAT_MAX_PARTICIPANTS_PER_THREAD": "3",
            "SWITCHBOARD_CHAT_MAX_PARTICIPANTS_PER_REQUEST": "2",
            **QUICK_STOP,
        }
    )
    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    _, token = identity.create_user_and_token(["chat"])
    users = [ChatParticipant(identifier=identity.create_user()) for _ in range(3)]

    with ChatClient(node.endpoint, CommunicationTokenCredential(token.token)) as client:
        with pytest.raises(HttpResponseError) as caught:
            client.create_chat_thread("Big", thread_participants=users)
        assert caught.value.status_code == 400
        assert caught.value.error.message == (
            "a request may name at most 2 participants, not 3"
        )

        thread_id = client.create_chat_thread(
            "Small", thread_participants=users[:2]
        ).chat_thread.id
        with pytest.raises(HttpResponseError) as caught:
            client.get_chat_thread_client(thread_id).add_participants(users[2:])
        assert caught.value.status_code == 400
        assert caught.value.error.message == (
            "a chat thread has at most 3 participants; it has 3 and the request adds 1"
        )
