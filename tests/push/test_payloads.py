"""What a push carries for each event and preview setting."""

from __future__ import annotations

import string

from switchboard.push.payloads import (
    PREVIEW_CHARS,
    call_push,
    collapse_key,
    message_push,
    preview_text,
)
from switchboard.push.records import PushKind

MESSAGE = {
    "threadId": "19:abc@thread.v2",
    "id": "1733200000000",
    "type": "html",
    "sender": {"rawId": "8:acs:r_ada", "communicationUser": {"id": "8:acs:r_ada"}},
    "senderDisplayName": "Ada",
    "message": "<p>Hello&nbsp;<b>Bob</b></p>\n<p>see   you</p>",
}
ENDPOINT = "https://switchboard.example:8443"


def test_full_preview_names_the_sender_and_shows_the_text() -> None:
    push = message_push(MESSAGE, "full", ENDPOINT, 3600)

    assert push.kind is PushKind.MESSAGE
    assert push.ttl_s == 3600
    assert push.collapse_key == collapse_key("19:abc@thread.v2")
    assert push.payload == {
        "type": "chatMessageReceived",
        "threadId": "19:abc@thread.v2",
        "messageId": "1733200000000",
        "endpoint": ENDPOINT,
        "senderId": "8:acs:r_ada",
        "senderDisplayName": "Ada",
        "preview": "Hello Bob see you",
    }


def test_sender_preview_leaves_the_text_out() -> None:
    payload = message_push(MESSAGE, "sender", ENDPOINT, 60).payload

    assert payload["senderDisplayName"] == "Ada"
    assert "preview" not in payload


def test_no_preview_leaves_sender_and_text_out() -> None:
    payload = message_push(MESSAGE, "none", ENDPOINT, 60).payload

    assert set(payload) == {"type", "threadId", "messageId", "endpoint"}


def test_a_long_message_is_cut_on_one_line() -> None:
    text = preview_text("word " * 100, "text")

    assert len(text) == PREVIEW_CHARS
    assert text.endswith("…")
    assert "\n" not in preview_text("a\nb\r\nc", "text")


def test_collapse_keys_suit_every_provider() -> None:
    keys = {collapse_key(f"19:{n}@thread.v2") for n in range(100)}

    assert len(keys) == 100
    for key in keys:
        # Web Push Topic (RFC 8030 §5.4): at most 32 base64url characters.
        assert len(key) == 32
        assert set(key) <= set(string.ascii_letters + string.digits + "-_")


def test_a_call_push_names_the_caller() -> None:
    data = {
        "callId": "c-1",
        "caller": {"id": "8:acs:r_ada", "displayName": "Ada", "state": "connected"},
        "subject": "Standup",
        "video": True,
        "participants": [],
        "kind": "group",
    }

    push = call_push(data, ENDPOINT, 60)

    assert push.kind is PushKind.CALL
    assert push.collapse_key == ""
    assert push.payload == {
        "type": "incomingCall",
        "callId": "c-1",
        "callerId": "8:acs:r_ada",
        "callerDisplayName": "Ada",
        "subject": "Standup",
        "video": True,
        "kind": "group",
        "endpoint": ENDPOINT,
    }
