"""Events and the two envelopes they travel in.

Event type names and data shapes are those ACS publishes through Event Grid
(WIRE.md §3). Each delivery carries one event: the Event Grid schema as a JSON
array of one, CloudEvents 1.0 in structured mode as one JSON object.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from switchboard.core.clock import iso8601

PREFIX = "Microsoft.Communication."

CHAT_EVENT_TYPES = tuple(
    PREFIX + name
    for name in (
        "ChatMessageReceived",
        "ChatMessageReceivedInThread",
        "ChatMessageEdited",
        "ChatMessageEditedInThread",
        "ChatMessageDeleted",
        "ChatMessageDeletedInThread",
        "ChatThreadCreatedWithUser",
        "ChatThreadCreated",
        "ChatThreadPropertiesUpdatedPerUser",
        "ChatThreadPropertiesUpdated",
        "ChatThreadWithUserDeleted",
        "ChatThreadDeleted",
        "ChatParticipantAddedToThreadWithUser",
        "ChatThreadParticipantAdded",
        "ChatParticipantRemovedFromThreadWithUser",
        "ChatThreadParticipantRemoved",
    )
)

SMS_EVENT_TYPES = (PREFIX + "SMSReceived", PREFIX + "SMSDeliveryReportReceived")

CALL_EVENT_TYPES = tuple(
    PREFIX + name
    for name in (
        "IncomingCall",
        "CallStarted",
        "CallEnded",
        "CallParticipantAdded",
        "CallParticipantRemoved",
    )
)

KNOWN_EVENT_TYPES = frozenset(CHAT_EVENT_TYPES + SMS_EVENT_TYPES + CALL_EVENT_TYPES)
"""The event types a subscription may name; later capabilities add theirs."""

VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"


class Envelope(StrEnum):
    """How a subscription wants its events wrapped."""

    EVENT_GRID = "eventgrid"
    CLOUD_EVENTS = "cloudevents"


@dataclass(frozen=True, slots=True)
class Event:
    """One event: what happened, to what (`subject`), when, and its data."""

    type: str
    subject: str
    data: dict[str, Any]
    time: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def topic_for(resource_id: str) -> str:
    """The Event Grid `topic` and CloudEvents `source` of a resource's events."""
    return f"/switchboard/communicationServices/{resource_id}"


def event_grid(event: Event, topic: str) -> list[dict[str, Any]]:
    """The Event Grid schema: a JSON array holding the one event."""
    return [
        {
            "id": event.id,
            "topic": topic,
            "subject": event.subject,
            "data": event.data,
            "eventType": event.type,
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "eventTime": iso8601(event.time),
        }
    ]


def cloud_event(event: Event, source: str) -> dict[str, Any]:
    """CloudEvents 1.0, structured JSON mode."""
    return {
        "id": event.id,
        "source": source,
        "subject": event.subject,
        "type": event.type,
        "time": iso8601(event.time),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": event.data,
    }


def wrap(event: Event, envelope: Envelope, topic: str) -> tuple[Any, str]:
    """The body and content type of one delivery."""
    if envelope is Envelope.EVENT_GRID:
        return event_grid(event, topic), "application/json; charset=utf-8"
    return cloud_event(event, topic), "application/cloudevents+json; charset=utf-8"
