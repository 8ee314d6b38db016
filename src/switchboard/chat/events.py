"""Realtime chat events: names and data shapes, after the ACS JavaScript chat SDK.

docs/chat.md describes each one. The service sends one event for all of a
thread's recipients, so `recipient` is left for the gateway to fill in with the
user each connection belongs to. Times are ISO 8601 strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from switchboard.chat.records import Message, Participant, ReadReceipt, Thread
from switchboard.chat.wire import identifier_json
from switchboard.core.clock import iso8601


class ChatEvent(StrEnum):
    """The event names, as the ACS chat SDKs spell them."""

    MESSAGE_RECEIVED = "chatMessageReceived"
    MESSAGE_EDITED = "chatMessageEdited"
    MESSAGE_DELETED = "chatMessageDeleted"
    TYPING = "typingIndicatorReceived"
    READ_RECEIPT = "readReceiptReceived"
    THREAD_CREATED = "chatThreadCreated"
    THREAD_UPDATED = "chatThreadPropertiesUpdated"
    THREAD_DELETED = "chatThreadDeleted"
    PARTICIPANTS_ADDED = "participantsAdded"
    PARTICIPANTS_REMOVED = "participantsRemoved"


def _participant(participant: Participant) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": identifier_json(participant.user_id),
        "displayName": participant.display_name or "",
        "shareHistoryTime": iso8601(participant.share_history_at),
        "metadata": {},
    }
    return body


def _by(user_id: str, name: str | None = None) -> dict[str, Any]:
    return _participant(Participant(user_id, name))


def _message_base(message: Message) -> dict[str, Any]:
    sender = message.sender_id or message.initiator or ""
    return {
        "threadId": message.thread_id,
        "id": str(message.id),
        "version": str(message.version),
        "type": message.type.value,
        "createdOn": iso8601(message.created_at),
        "sender": identifier_json(sender),
        "senderDisplayName": message.sender_display_name or "",
    }


def message_received(message: Message) -> dict[str, Any]:
    """`chatMessageReceived`."""
    return {
        **_message_base(message),
        "message": message.content or "",
        "metadata": dict(message.metadata),
    }


def message_edited(message: Message) -> dict[str, Any]:
    """`chatMessageEdited`."""
    assert message.edited_at is not None
    return {**message_received(message), "editedOn": iso8601(message.edited_at)}


def message_deleted(message: Message) -> dict[str, Any]:
    """`chatMessageDeleted`."""
    assert message.deleted_at is not None
    return {**_message_base(message), "deletedOn": iso8601(message.deleted_at)}


def typing(
    thread_id: str, sender: str, display_name: str | None, now: float
) -> dict[str, Any]:
    """`typingIndicatorReceived`."""
    return {
        "threadId": thread_id,
        "sender": identifier_json(sender),
        "senderDisplayName": display_name or "",
        "version": str(int(now * 1000)),
        "receivedOn": iso8601(now),
    }


def read_receipt(thread_id: str, receipt: ReadReceipt) -> dict[str, Any]:
    """`readReceiptReceived`."""
    return {
        "threadId": thread_id,
        "sender": identifier_json(receipt.user_id),
        "senderDisplayName": "",
        "chatMessageId": str(receipt.message_id),
        "readOn": iso8601(receipt.read_at),
    }


def thread_created(
    thread: Thread, participants: list[Participant], version: int
) -> dict[str, Any]:
    """`chatThreadCreated`."""
    creator = next(
        (p for p in participants if p.user_id == thread.created_by),
        Participant(thread.created_by),
    )
    return {
        "threadId": thread.id,
        "version": str(version),
        "createdOn": iso8601(thread.created_at),
        "properties": {"topic": thread.topic, "metadata": {}},
        "participants": [_participant(p) for p in participants],
        "createdBy": _participant(creator),
    }


def thread_updated(thread: Thread, by: str, at: float, version: int) -> dict[str, Any]:
    """`chatThreadPropertiesUpdated`."""
    return {
        "threadId": thread.id,
        "version": str(version),
        "properties": {"topic": thread.topic, "metadata": {}},
        "updatedOn": iso8601(at),
        "updatedBy": _by(by),
    }


def thread_deleted(thread_id: str, by: str, at: float, version: int) -> dict[str, Any]:
    """`chatThreadDeleted`."""
    return {
        "threadId": thread_id,
        "version": str(version),
        "deletedOn": iso8601(at),
        "deletedBy": _by(by),
        "reason": "deletedByUser",
    }


def participants_added(message: Message) -> dict[str, Any]:
    """`participantsAdded`, from the participantAdded system message."""
    assert message.initiator is not None
    return {
        "threadId": message.thread_id,
        "version": str(message.version),
        "addedOn": iso8601(message.created_at),
        "participantsAdded": [_participant(p) for p in message.participants],
        "addedBy": _by(message.initiator),
    }


def participants_removed(message: Message) -> dict[str, Any]:
    """`participantsRemoved`, from the participantRemoved system message."""
    assert message.initiator is not None
    return {
        "threadId": message.thread_id,
        "version": str(message.version),
        "removedOn": iso8601(message.created_at),
        "participantsRemoved": [_participant(p) for p in message.participants],
        "removedBy": _by(message.initiator),
    }
