"""Typing notifications and read receipts through the official sync client."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.chat.conftest import ChatUser, UserFactory, error_of, thread_path


@pytest.fixture
def thread_id(alice: ChatUser, bob: ChatUser) -> str:
    """A thread of Alice's with Bob in it."""
    result = alice.client.create_chat_thread(
        "Receipts", thread_participants=[bob.participant("Bob")]
    )
    return str(result.chat_thread.id)


def test_typing_notification_is_accepted(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    alice.thread(thread_id).send_typing_notification(sender_display_name="Alice")
    bob.thread(thread_id).send_typing_notification()

    answer = alice.http("POST", thread_path(thread_id, "typing"))
    assert (answer.status_code, answer.content) == (200, b"")


def test_read_receipts_keep_each_readers_newest(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    thread = alice.thread(thread_id)
    first = thread.send_message("one").id
    second = thread.send_message("two").id

    bob.thread(thread_id).send_read_receipt(second)
    bob.thread(thread_id).send_read_receipt(first)
    alice.thread(thread_id).send_read_receipt(first)

    receipts = {r.sender.raw_id: r.chat_message_id for r in thread.list_read_receipts()}
    assert receipts == {bob.raw_id: second, alice.raw_id: first}


def test_read_receipts_page(
    alice: ChatUser, make_user: UserFactory, thread_id: str
) -> None:
    readers = [make_user() for _ in range(3)]
    alice.thread(thread_id).add_participants([r.participant() for r in readers])
    message = alice.thread(thread_id).send_message("read me").id
    for reader in readers:
        reader.thread(thread_id).send_read_receipt(message)

    pages = [
        [r.sender.raw_id for r in page]
        for page in alice.thread(thread_id)
        .list_read_receipts(results_per_page=2)
        .by_page()
    ]

    assert [len(p) for p in pages] == [2, 1]
    assert sorted(raw for page in pages for raw in page) == sorted(
        r.raw_id for r in readers
    )


def test_removed_readers_drop_out_of_the_list(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    message = alice.thread(thread_id).send_message("seen").id
    bob.thread(thread_id).send_read_receipt(message)

    alice.thread(thread_id).remove_participant(bob.identifier)

    assert list(alice.thread(thread_id).list_read_receipts()) == []


def test_receipt_for_an_unknown_message_is_not_found(
    bob: ChatUser, thread_id: str
) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        bob.thread(thread_id).send_read_receipt("12345")
    assert caught.value.error.target == "chatMessageId"

    answer = bob.http("POST", thread_path(thread_id, "readReceipts"), json={})
    assert error_of(answer) == (
        400,
        "InvalidRequestBody",
        "chatMessageId must be a non-empty string",
    )


@pytest.mark.parametrize("listing", ["readReceipts", "participants"])
def test_a_negative_skip_is_refused_on_both_lists(
    alice: ChatUser, thread_id: str, listing: str
) -> None:
    answer = alice.http("GET", thread_path(thread_id, listing), skip=-1)
    assert error_of(answer) == (400, "BadRequest", "skip must not be negative")
