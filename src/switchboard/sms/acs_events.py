"""SMS events for webhooks, with the ACS Event Grid type names and data shapes.

The data keys are PascalCase, as ACS sends them (WIRE.md §3). The subject names
the resource's own number: `/phonenumber/<digits>`.
"""

from __future__ import annotations

from switchboard.core.clock import iso8601
from switchboard.events.model import PREFIX, Event
from switchboard.sms.records import OutboundMessage, OutboundState

SMS_RECEIVED = PREFIX + "SMSReceived"
SMS_DELIVERY_REPORT = PREFIX + "SMSDeliveryReportReceived"

_STATUS = {
    OutboundState.DELIVERED: "Delivered",
    OutboundState.FAILED: "Failed",
    OutboundState.EXPIRED: "Expired",
}


def subject_for(number: str) -> str:
    """The subject of an event about one of the resource's numbers."""
    return "/phonenumber/" + number.lstrip("+")


def sms_received(
    message_id: str, sender: str, recipient: str, text: str, at: float
) -> Event:
    """`SMSReceived`: a phone texted one of the resource's numbers."""
    data = {
        "MessageId": message_id,
        "From": sender,
        "To": recipient,
        "Message": text,
        "ReceivedTimestamp": iso8601(at),
    }
    return Event(SMS_RECEIVED, subject_for(recipient), data, at)


def delivery_report(
    message: OutboundMessage, state: OutboundState, detail: str, at: float
) -> Event:
    """`SMSDeliveryReportReceived`: what finally happened to a sent message."""
    delivered = state is OutboundState.DELIVERED
    data = {
        "MessageId": message.id,
        "From": message.sender,
        "To": message.recipient,
        "DeliveryStatus": _STATUS[state],
        "DeliveryStatusDetails": detail,
        "DeliveryAttempts": [
            {
                "Timestamp": iso8601(at),
                "SegmentsSucceeded": message.segments if delivered else 0,
                "SegmentsFailed": 0 if delivered else message.segments,
            }
        ],
        "ReceivedTimestamp": iso8601(at),
        "Tag": message.tag,
    }
    return Event(SMS_DELIVERY_REPORT, subject_for(message.sender), data, at)
