"""Chat's events for webhooks, with the ACS Event Grid type names and data shapes.

`ChatMessageReceived` and the other per-user events go to each recipient; the
`...InThread` and thread events go once. docs/events.md lists subjects and types.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from switchboard.chat.content import MessageType
from switchboard.chat.records import Message, Participant, Thread
from switchboard.chat.wire import identifier_json
from switchboard.core.clock import iso8601
from switchboard.events.model import PREFIX, Event

_WIRE_TYPE = {MessageType.TEXT: "Text", MessageType.HTML: "Html"}


def _participant(participant: Participant) -> dict[str, Any]:
    return {
        "displayName": participant.display_name or "",
        "participantCommunicationIdentifier": identifier_json(participant.user_id),
        "metadata": {},
    }


def _fan_out(
    name: str,
    subject: str,
    base: dict[str, Any],
    recipients: Iterable[str],
    at: float,
) -> list[Event]:
    """One per-user event for each recipient, sharing a transaction id."""
    transaction = str(uuid.uuid4())
    per_user = [
        Event(
            type=PREFIX + name,
            subject=f"{subject}/recipient/{recipient}",
            data={
                **base,
                "recipientCommunicationIdentifier": identifier_json(recipient),
                "transactionId": transaction,
            },
            time=at,
        )
        for recipient in recipients
    ]
    return per_user


def _message_events(
    name: str, message: Message, recipients: Iterable[str], extra: dict[str, Any]
) -> list[Event]:
    sender = message.sender_id or ""
    subject = f"thread/{message.thread_id}/sender/{sender}"
    at = max(message.created_at, message.edited_at or 0, message.deleted_at or 0)
    base = {
        "threadId": message.thread_id,
        "messageId": str(message.id),
        "senderCommunicationIdentifier": identifier_json(sender),
        "senderDisplayName": message.sender_display_name or "",
        "composeTime": iso8601(message.created_at),
        "type": _WIRE_TYPE.get(message.type, message.type.value),
        "version": message.version,
        **extra,
    }
    others = [r for r in recipients if r != sender]
    events = _fan_out(name, subject, base, others, at)
    in_thread = {**base, "transactionId": str(uuid.uuid4())}
    events.append(Event(PREFIX + name + "InThread", subject, in_thread, at))
    return events


def message_received(message: Message, recipients: Iterable[str]) -> list[Event]:
    """`ChatMessageReceived` for every participant but the sender, and in-thread."""
    body = {"messageBody": message.content or "", "metadata": dict(message.metadata)}
    return _message_events("ChatMessageReceived", message, recipients, body)


def message_edited(message: Message, recipients: Iterable[str]) -> list[Event]:
    """`ChatMessageEdited`, per recipient and in-thread."""
    body = {
        "messageBody": message.content or "",
        "metadata": dict(message.metadata),
        "editTime": iso8601(message.edited_at or message.created_at),
    }
    return _message_events("ChatMessageEdited", message, recipients, body)


def message_deleted(message: Message, recipients: Iterable[str]) -> list[Event]:
    """`ChatMessageDeleted`, per recipient and in-thread."""
    body = {"deleteTime": iso8601(message.deleted_at or message.created_at)}
    return _message_events("ChatMessageDeleted", message, recipients, body)


def _thread_events(
    per_user: str,
    in_thread: str,
    subject: str,
    thread: Thread,
    version: int,
    body: dict[str, Any],
    recipients: Iterable[str],
    at: float,
    *,
    created_in_thread: bool = True,
) -> list[Event]:
    base = {"threadId": thread.id, "version": version, **body}
    created = {"createTime": iso8601(thread.created_at)}
    events = _fan_out(per_user, subject, {**base, **created}, recipients, at)
    # The participant events in the thread carry no createTime in ACS.
    once = {**base, "transactionId": str(uuid.uuid4())}
    if created_in_thread:
        once.update(created)
    events.append(Event(PREFIX + in_thread, subject, once, at))
    return events


def thread_created(
    thread: Thread, members: list[Participant], version: int
) -> list[Event]:
    """`ChatThreadCreatedWithUser` for each participant, and `ChatThreadCreated`."""
    body = {
        "createdByCommunicationIdentifier": identifier_json(thread.created_by),
        "properties": {"topic": thread.topic},
        "metadata": {},
        "participants": [_participant(m) for m in members],
    }
    return _thread_events(
        "ChatThreadCreatedWithUser",
        "ChatThreadCreated",
        f"thread/{thread.id}/createdBy/{thread.created_by}",
        thread,
        version,
        body,
        [m.user_id for m in members],
        thread.created_at,
    )


def thread_updated(
    thread: Thread, editor: str, version: int, recipients: Iterable[str], at: float
) -> list[Event]:
    """`ChatThreadPropertiesUpdatedPerUser` and `ChatThreadPropertiesUpdated`."""
    body = {
        "editedByCommunicationIdentifier": identifier_json(editor),
        "editTime": iso8601(at),
        "properties": {"topic": thread.topic},
        "metadata": {},
    }
    return _thread_events(
        "ChatThreadPropertiesUpdatedPerUser",
        "ChatThreadPropertiesUpdated",
        f"thread/{thread.id}/editedBy/{editor}",
        thread,
        version,
        body,
        recipients,
        at,
    )


def thread_deleted(
    thread: Thread, deleter: str, version: int, recipients: Iterable[str], at: float
) -> list[Event]:
    """`ChatThreadWithUserDeleted` for each participant, and `ChatThreadDeleted`."""
    body = {
        "deletedByCommunicationIdentifier": identifier_json(deleter),
        "deleteTime": iso8601(at),
    }
    return _thread_events(
        "ChatThreadWithUserDeleted",
        "ChatThreadDeleted",
        f"thread/{thread.id}/deletedBy/{deleter}",
        thread,
        version,
        body,
        recipients,
        at,
    )


def participants_changed(
    thread: Thread,
    changed: Iterable[Participant],
    by: str,
    version: int,
    recipients: Iterable[str],
    at: float,
    *,
    added: bool,
) -> list[Event]:
    """Participant added (or removed) events: per recipient, and once in-thread."""
    verb = "Added" if added else "Removed"
    per_user = (
        "ChatParticipantAddedToThreadWithUser"
        if added
        else "ChatParticipantRemovedFromThreadWithUser"
    )
    everyone = list(recipients)
    events: list[Event] = []
    for participant in changed:
        body = {
            "time": iso8601(at),
            f"{verb.lower()}ByCommunicationIdentifier": identifier_json(by),
            f"participant{verb}": _participant(participant),
        }
        events += _thread_events(
            per_user,
            f"ChatThreadParticipant{verb}",
            f"thread/{thread.id}/participant{verb}/{participant.user_id}",
            thread,
            version,
            body,
            everyone,
            at,
            created_in_thread=False,
        )
    return events
