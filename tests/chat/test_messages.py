"""Messages through the official sync client: send, get, list, edit, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.communication.chat import ChatMessageType
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.chat.conftest import ChatUser, error_of, thread_path

LIMIT = 28 * 1024


@pytest.fixture
def thread_id(alice: ChatUser, bob: ChatUser) -> str:
    """A thread of Alice's with Bob in it."""
    result = alice.client.create_chat_thread(
        "Messages", thread_participants=[bob.participant("Bob")]
    )
    return str(result.chat_thread.id)


def test_send_and_get_a_text_message(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    sent = alice.thread(thread_id).send_message(
        "Hello Bob", sender_display_name="Alice", metadata={"tag": "greeting"}
    )

    message = bob.thread(thread_id).get_message(sent.id)
    assert message.id == sent.id
    assert message.type == ChatMessageType.TEXT
    assert message.content.message == "Hello Bob"
    assert message.sender.raw_id == alice.raw_id
    assert message.sender_display_name == "Alice"
    assert message.metadata == {"tag": "greeting"}
    assert message.version == message.id
    assert message.sequence_id == "3"  # after topicUpdated and participantAdded
    assert message.edited_on is None and message.deleted_on is None
    assert abs(message.created_on - datetime.now(UTC)) < timedelta(minutes=1)
    assert int(message.created_on.timestamp() * 1000) == int(message.id)


def test_ids_and_sequence_numbers_increase(alice: ChatUser, thread_id: str) -> None:
    thread = alice.thread(thread_id)
    ids = [int(thread.send_message(f"m{i}").id) for i in range(5)]

    listed = [m for m in thread.list_messages() if m.type == ChatMessageType.TEXT]

    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [int(m.id) for m in listed] == ids[::-1]
    assert [int(m.sequence_id) for m in listed] == [7, 6, 5, 4, 3]


@pytest.mark.parametrize(
    "text",
    [
        "Grüße, 世界! 👋🏽 👨‍👩‍👧‍👦",
        "tabs\tand\nnewlines  and <b>not html</b> & entities &amp;",
        "\u200bzero width, rtl \u05e9\u05dc\u05d5\u05dd, math \U0001d6fc",
    ],
)
def test_text_round_trips_exactly(alice: ChatUser, thread_id: str, text: str) -> None:
    sent = alice.thread(thread_id).send_message(text, metadata={"echo": text})

    message = alice.thread(thread_id).get_message(sent.id)
    assert message.content.message == text
    assert message.metadata == {"echo": text}


def test_html_keeps_formatting_and_unicode(alice: ChatUser, thread_id: str) -> None:
    html = (
        '<p>Hi <strong>all</strong> 🎉 — <em>ça va</em>? <a href="https://example.org/x">'
        "link</a></p><ul><li>one</li></ul>"
    )

    sent = alice.thread(thread_id).send_message(html, chat_message_type="html")

    message = alice.thread(thread_id).get_message(sent.id)
    assert message.type == ChatMessageType.HTML
    assert message.content.message == html.replace(
        '">link', '" rel="noopener noreferrer">link'
    )


def test_html_is_sanitised(alice: ChatUser, thread_id: str) -> None:
    dirty = (
        "<p onclick=\"steal()\">hello<script>alert('x')</script></p>"
        '<a href="javascript:alert(1)">click</a><img src="https://e.org/i.png" '
        'onerror="alert(2)"><iframe src="https://e.org"></iframe>'
    )

    sent = alice.thread(thread_id).send_message(dirty, chat_message_type="html")

    stored = alice.thread(thread_id).get_message(sent.id).content.message
    assert stored == (
        '<p>hello</p><a rel="noopener noreferrer">click</a>'
        '<img src="https://e.org/i.png">'
    )


def test_display_name_defaults_to_the_participant_name(
    bob: ChatUser, thread_id: str
) -> None:
    sent = bob.thread(thread_id).send_message("no name given")

    assert bob.thread(thread_id).get_message(sent.id).sender_display_name == "Bob"


def test_edit_changes_content_version_and_edited_on(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    thread = alice.thread(thread_id)
    sent = thread.send_message("draft")
    original = thread.get_message(sent.id)

    thread.update_message(sent.id, content="final ✅")

    edited = bob.thread(thread_id).get_message(sent.id)
    assert edited.content.message == "final ✅"
    assert edited.id == original.id and edited.sequence_id == original.sequence_id
    assert int(edited.version) > int(original.version)
    assert edited.edited_on is not None and edited.edited_on >= original.created_on
    assert edited.created_on == original.created_on


def test_edit_merges_metadata(alice: ChatUser, thread_id: str) -> None:
    thread = alice.thread(thread_id)
    sent = thread.send_message(
        "meta", metadata={"keep": "1", "change": "2", "drop": "3", "blank": "4"}
    )

    thread.update_message(
        sent.id, metadata={"change": "20", "drop": None, "blank": "", "new": "5"}
    )

    message = thread.get_message(sent.id)
    assert message.metadata == {"keep": "1", "change": "20", "new": "5"}
    assert message.content.message == "meta"

    thread.update_message(sent.id, content="content only")
    assert thread.get_message(sent.id).metadata == {
        "keep": "1",
        "change": "20",
        "new": "5",
    }


def test_only_the_sender_may_edit_or_delete(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    sent = alice.thread(thread_id).send_message("mine")

    for call in (
        lambda: bob.thread(thread_id).update_message(sent.id, content="yours"),
        lambda: bob.thread(thread_id).delete_message(sent.id),
    ):
        with pytest.raises(HttpResponseError) as caught:
            call()
        assert caught.value.status_code == 403
        assert caught.value.error.message == (
            "only the sender of a message may edit or delete it"
        )
    assert alice.thread(thread_id).get_message(sent.id).content.message == "mine"


def test_delete_leaves_a_tombstone(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    thread = alice.thread(thread_id)
    sent = thread.send_message("oops", metadata={"k": "v"})
    version = thread.get_message(sent.id).version

    thread.delete_message(sent.id)
    thread.delete_message(sent.id)

    tombstone = bob.thread(thread_id).get_message(sent.id)
    assert tombstone.deleted_on is not None
    assert tombstone.content is None
    assert not tombstone.metadata
    assert int(tombstone.version) > int(version)
    listed = {m.id: m for m in bob.thread(thread_id).list_messages()}
    assert listed[sent.id].deleted_on == tombstone.deleted_on
    with pytest.raises(ResourceNotFoundError):
        thread.update_message(sent.id, content="resurrect")


def test_unknown_message_is_not_found(alice: ChatUser, thread_id: str) -> None:
    for message_id in ("1", "not-a-number"):
        with pytest.raises(ResourceNotFoundError) as caught:
            alice.thread(thread_id).get_message(message_id)
        assert caught.value.error.message == (
            f"the chat message {message_id} does not exist in this thread"
        )


def test_size_limit_counts_utf8_bytes_of_content_and_metadata(
    alice: ChatUser, thread_id: str
) -> None:
    thread = alice.thread(thread_id)
    assert thread.send_message("x" * LIMIT).id
    assert thread.send_message("🙂" * (LIMIT // 4)).id

    for content, metadata in (("x" * (LIMIT + 1), None), ("x" * LIMIT, {"k": "v"})):
        with pytest.raises(HttpResponseError) as caught:
            thread.send_message(content, metadata=metadata)
        assert caught.value.status_code == 400
        assert caught.value.error.message.startswith(
            f"the message is {LIMIT + 1 if metadata is None else LIMIT + 2} bytes; "
            f"the limit is {LIMIT} bytes"
        )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"content": "x", "type": "markdown"},
            "InvalidRequestBody",
            "the message type 'markdown' is not supported; a message is 'text' or "
            "'html'",
        ),
        (
            {"content": "x", "type": "topicUpdated"},
            "InvalidRequestBody",
            "the message type 'topicUpdated' is not supported; a message is 'text' "
            "or 'html'",
        ),
        (
            {"content": "x", "metadata": {"n": 1}},
            "InvalidRequestBody",
            "metadata value of 'n' must be a string",
        ),
        (
            {"content": "x", "metadata": {"n": None}},
            "InvalidRequestBody",
            "metadata value of 'n' must be a string",
        ),
        (
            {"content": "x", "metadata": ["a"]},
            "InvalidRequestBody",
            "metadata must be an object of string values",
        ),
        (
            {"content": ""},
            "InvalidRequestBody",
            "the message content must be a non-empty string",
        ),
        (
            {"type": "text"},
            "InvalidRequestBody",
            "the message content must be a non-empty string",
        ),
    ],
)
def test_bad_messages_are_refused(
    alice: ChatUser, thread_id: str, body: dict[str, Any], code: str, message: str
) -> None:
    answer = alice.http("POST", thread_path(thread_id, "messages"), json=body)

    assert error_of(answer) == (400, code, message)


def test_capitalised_type_is_accepted(alice: ChatUser, thread_id: str) -> None:
    answer = alice.http(
        "POST",
        thread_path(thread_id, "messages"),
        json={"content": "x", "type": "Html"},
    )

    assert answer.status_code == 201
    assert answer.headers["location"].endswith(f"/messages/{answer.json()['id']}")
    message = alice.thread(thread_id).get_message(answer.json()["id"])
    assert message.type == ChatMessageType.HTML


def test_start_time_filters_messages(alice: ChatUser, thread_id: str) -> None:
    thread = alice.thread(thread_id)
    first = thread.send_message("first")
    second = thread.send_message("second")
    cut = thread.get_message(second.id).created_on

    later = [m.id for m in thread.list_messages(start_time=cut)]

    assert later == [second.id]
    assert first.id in [m.id for m in thread.list_messages()]


def test_paging_while_messages_arrive_misses_and_repeats_nothing(
    alice: ChatUser, bob: ChatUser, thread_id: str
) -> None:
    for i in range(20):
        alice.thread(thread_id).send_message(f"before {i}")

    seen: list[int] = []
    pages = bob.thread(thread_id).list_messages(results_per_page=3).by_page()
    for page in pages:
        seen += [int(m.sequence_id) for m in page]
        # New messages land on top of the list between every two pages.
        alice.thread(thread_id).send_message("during")

    assert len(seen) == len(set(seen))
    assert sorted(seen, reverse=True) == seen
    assert seen == list(range(seen[0], 0, -1))
    assert seen[0] == 22
