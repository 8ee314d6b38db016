"""SMS events end to end: the virtual network, the sender, the outbox, a webhook."""

from __future__ import annotations

from typing import Any

from azure.communication.sms import SmsClient
from azure.eventgrid import EventGridEvent, SystemEventNames

from tests.conftest import RunningServer
from tests.events.receiver import Receiver
from tests.sms.conftest import (
    events_of,
    handset_messages,
    subscribe,
    text_from_handset,
    wait_until,
)

RECEIVED = "Microsoft.Communication.SMSReceived"
REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"


def reports_by_id(receiver: Receiver, count: int) -> dict[str, dict[str, Any]]:
    """Wait for `count` delivery report events; key them by message id."""

    def enough() -> list[dict[str, Any]] | None:
        found = events_of(receiver, REPORT)
        return found if len(found) >= count else None

    events = wait_until(f"{count} delivery reports", enough)
    return {event["data"]["MessageId"]: event for event in events}


def test_delivery_reports_reach_the_webhook_in_acs_shape(
    node: RunningServer, sms: SmsClient, sender: str, receiver: Receiver
) -> None:
    subscribe(node, receiver, [REPORT])
    # The virtual network settles numbers ending 99 as failed and 98 as expired.
    delivered, refused, expired = "+12065551041", "+12065551099", "+12065551098"

    [quiet] = sms.send(from_=sender, to="+12065551042", message="no report")
    results = sms.send(
        from_=sender,
        to=[delivered, refused, expired],
        message="with report",
        enable_delivery_report=True,
        tag="order-42",
    )

    reports = reports_by_id(receiver, 3)
    assert set(reports) == {r.message_id for r in results}
    assert quiet.message_id not in reports
    statuses = {}
    for result in results:
        event = reports[result.message_id]
        parsed = EventGridEvent.from_dict(event)
        assert (
            parsed.event_type == SystemEventNames.AcsSmsDeliveryReportReceivedEventName
        )
        assert parsed.subject == "/phonenumber/" + sender.lstrip("+")
        data = event["data"]
        assert data["From"] == sender
        assert data["To"] == result.to
        assert data["Tag"] == "order-42"
        [attempt] = data["DeliveryAttempts"]
        ok = data["DeliveryStatus"] == "Delivered"
        assert attempt["SegmentsSucceeded"] == (1 if ok else 0)
        assert attempt["SegmentsFailed"] == (0 if ok else 1)
        assert data["ReceivedTimestamp"].endswith("Z")
        statuses[result.to] = (data["DeliveryStatus"], data["DeliveryStatusDetails"])
    assert statuses == {
        delivered: ("Delivered", "delivered to the handset"),
        refused: ("Failed", "the handset refused the message (test number)"),
        expired: (
            "Expired",
            "the handset stayed unreachable until the message expired (test number)",
        ),
    }


def test_carrier_refusals_fail_the_message_with_a_report(
    node: RunningServer, sms: SmsClient, sender: str, receiver: Receiver
) -> None:
    subscribe(node, receiver, [REPORT])
    # 96: not in service (permanent); 97: congested (transient, retried until
    # the node's three attempts are spent).
    permanent, congested = "+12065551096", "+12065551097"

    results = sms.send(
        from_=sender,
        to=[permanent, congested],
        message="doomed",
        enable_delivery_report=True,
    )

    reports = reports_by_id(receiver, 2)
    by_to = {r.to: reports[r.message_id]["data"] for r in results}
    assert by_to[permanent]["DeliveryStatus"] == "Failed"
    assert by_to[permanent]["DeliveryStatusDetails"] == (
        "the carrier did not take the message: +12065551096 is not in service "
        "(test number ending in 96)"
    )
    assert by_to[congested]["DeliveryStatus"] == "Failed"
    assert by_to[congested]["DeliveryStatusDetails"] == (
        "the carrier did not take the message: the network is congested "
        "(test number ending in 97)"
    )
    assert handset_messages(node, permanent) == []
    assert handset_messages(node, congested) == []
    log = node.log()
    assert "failed after 3 attempts to virtual" in log


def test_a_handset_texting_a_switchboard_number_reaches_the_webhook(
    node: RunningServer, sender: str, receiver: Receiver
) -> None:
    subscribe(node, receiver, [RECEIVED])
    handset = "+12065551051"

    text_from_handset(node, handset, sender, "Is my order ready? ✓")

    def arrived() -> list[dict[str, Any]] | None:
        return events_of(receiver, RECEIVED) or None

    [event] = wait_until("SMSReceived", arrived)
    parsed = EventGridEvent.from_dict(event)
    assert parsed.event_type == SystemEventNames.AcsSmsReceivedEventName
    assert parsed.subject == "/phonenumber/" + sender.lstrip("+")
    data = event["data"]
    assert data["MessageId"].startswith("Incoming_")
    assert data["From"] == handset
    assert data["To"] == sender
    assert data["Message"] == "Is my order ready? ✓"
    assert data["ReceivedTimestamp"].endswith("Z")
