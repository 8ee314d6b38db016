"""A node with an SMPP link, end to end: the official SDKs, the SMSC and a webhook.

The test SMSC (tests/telephony/smsc.py, built on smpplib) listens on loopback
in this process; a real `switchboard serve` is configured with one
`[[telephony.smpp]]` link to it and a number block, sells a number of that
block through the official phone numbers client, sends a two-part SMS through
the official SMS client, and turns the SMSC's receipt and incoming message
into `SMSDeliveryReportReceived` and `SMSReceived` at a webhook.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from azure.communication.phonenumbers import PhoneNumberCapabilityType
from azure.communication.sms import SmsClient
from azure.eventgrid import EventGridEvent, SystemEventNames

from tests.conftest import RunningServer
from tests.events.conftest import NODE_ENV
from tests.events.receiver import Receiver, ThreadedReceiver
from tests.sms.conftest import buy, events_of, subscribe, wait_until
from tests.telephony.smsc import Submitted, TestSmsc, gsm_decode, gsm_encode
from tests.telephony.smsc_thread import ThreadedSmsc

RECEIVED = "Microsoft.Communication.SMSReceived"
REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"
HANDSET = "+447911123456"
"""A valid UK mobile number: a phone on the SMSC's network, not Switchboard's."""

CONFIG = """\
[[telephony.smpp]]
name = "operator-a"
host = "127.0.0.1"
port = {port}
system_id = "{system_id}"
password = "{password}"
reconnect_min_s = 0.05
reconnect_max_s = 0.5

[[telephony.smpp.blocks]]
country = "US"
number_type = "geographic"
first = "+13125550100"
count = 20
sms = "inbound+outbound"
calling = "inbound+outbound"
monthly_cost = 1.5
area_code = "312"
locality = "Chicago"
"""
"""One link to the test SMSC with a block in an area code the virtual network lacks."""


@pytest.fixture
def smsc() -> Iterator[ThreadedSmsc]:
    """The test SMSC on its own loop in a thread."""
    threaded = ThreadedSmsc(TestSmsc())
    yield threaded
    threaded.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def node_args(
    request: pytest.FixtureRequest, smsc: ThreadedSmsc, tmp_path: Path
) -> list[str]:
    """`switchboard serve` arguments: a link to the SMSC, SQLite or PostgreSQL."""
    config = tmp_path / "switchboard.toml"
    config.write_text(
        CONFIG.format(
            port=smsc.port,
            system_id=smsc.smsc.system_id,
            password=smsc.smsc.password,
        ),
        encoding="utf-8",
    )
    args = ["--config", str(config)]
    if request.param == "postgresql":
        args += ["--database", request.getfixturevalue("postgres_url")]
    return args


@pytest.fixture
def node(node_args: list[str], server_factory: type) -> RunningServer:
    """A node linked to the SMSC, its webhooks allowed to reach loopback."""
    server: RunningServer = server_factory.start(*node_args, env=NODE_ENV)
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver running on its own loop."""
    threaded = ThreadedReceiver(Receiver())
    yield threaded.receiver
    threaded.stop()


def concat(part: Submitted) -> tuple[int, int, int, bytes]:
    """(reference, total, sequence, payload) of a part with an 8-bit concat UDH."""
    data = part.short_message
    assert part.esm_class & 0x40, "the UDHI bit is set"
    assert data[:3] == b"\x05\x00\x03"
    return data[3], data[4], data[5], data[6:]


def one_event(receiver: Receiver, event_type: str) -> dict[str, Any]:
    """Wait for an event of a type; there must be only one when it comes."""
    [event] = wait_until(event_type, lambda: events_of(receiver, event_type) or None)
    return event


def test_an_smpp_number_sends_gets_a_receipt_and_receives(
    node: RunningServer, smsc: ThreadedSmsc, receiver: Receiver
) -> None:
    number = buy(node, PhoneNumberCapabilityType.INBOUND_OUTBOUND, area_code="312")
    assert number.startswith("+1312555")
    subscribe(node, receiver, [RECEIVED, REPORT])
    peer = smsc.smsc

    # Out: 172 characters, three of them escaped, are 175 septets: two parts,
    # 153 + 22, only the last asking for a receipt.
    text = ("Your order 4711 is on its way. " * 5)[:155] + "Track: {A-7} \u20ac ok"
    assert (len(text), len(gsm_encode(text))) == (172, 175)
    sms = SmsClient.from_connection_string(node.connection_string)
    [result] = sms.send(
        from_=number,
        to=HANDSET,
        message=text,
        enable_delivery_report=True,
        tag="parcel",
    )
    assert result.successful
    assert result.http_status_code == 202

    wait_until("two submit_sm at the SMSC", lambda: len(peer.submitted) == 2 or None)
    parts = list(peer.submitted)
    headers = [concat(part) for part in parts]
    assert len({ref for ref, _, _, _ in headers}) == 1
    assert [(total, seq) for _, total, seq, _ in headers] == [(2, 1), (2, 2)]
    assert [len(payload) for _, _, _, payload in headers] == [153, 22]
    assert "".join(gsm_decode(payload) for _, _, _, payload in headers) == text
    assert [p.registered_delivery for p in parts] == [0, 1]
    assert {p.data_coding for p in parts} == {0}
    assert {(p.source_addr, p.source_addr_ton) for p in parts} == {
        (number.lstrip("+"), 1)
    }
    assert {(p.destination_addr, p.dest_addr_ton) for p in parts} == {
        (HANDSET.lstrip("+"), 1)
    }

    # The receipt names the SMSC's id of the last part; the event, ours.
    answer = smsc.call(peer.send_receipt(parts[-1].message_id, "DELIVRD"))
    assert answer == 0
    report = one_event(receiver, REPORT)
    parsed = EventGridEvent.from_dict(report)
    assert parsed.event_type == SystemEventNames.AcsSmsDeliveryReportReceivedEventName
    assert parsed.subject == "/phonenumber/" + number.lstrip("+")
    data = report["data"]
    assert data["MessageId"] == result.message_id
    assert (data["From"], data["To"], data["Tag"]) == (number, HANDSET, "parcel")
    assert data["DeliveryStatus"] == "Delivered"
    assert data["DeliveryStatusDetails"] == "delivered, error 000"
    [attempt] = data["DeliveryAttempts"]
    assert (attempt["SegmentsSucceeded"], attempt["SegmentsFailed"]) == (2, 0)

    # In: a concatenated message in two deliver_sm, the second part first.
    incoming = "Thanks, I will be home after six. " * 5 + "Price: 12 \u20ac [paid]"
    septets = gsm_encode(incoming)
    first, second = septets[:153], septets[153:]
    to_number = {"destination_addr": number.lstrip("+"), "dest_addr_ton": 1}
    from_handset = {"source_addr": HANDSET.lstrip("+"), "source_addr_ton": 1}
    answers = [
        smsc.call(
            peer.send_deliver(
                **from_handset, **to_number, esm_class=0x40,
                short_message=b"\x05\x00\x03\x2a\x02" + bytes([seq]) + payload,
            )
        )
        for seq, payload in ((2, second), (1, first))
    ]  # fmt: skip
    assert answers == [0, 0]

    received = one_event(receiver, RECEIVED)
    parsed = EventGridEvent.from_dict(received)
    assert parsed.event_type == SystemEventNames.AcsSmsReceivedEventName
    assert parsed.subject == "/phonenumber/" + number.lstrip("+")
    data = received["data"]
    assert data["MessageId"].startswith("Incoming_")
    assert (data["From"], data["To"]) == (HANDSET, number)
    assert data["Message"] == incoming
    assert len(peer.binds) == 1


def test_a_long_message_survives_a_kill_between_its_parts(
    node_args: list[str],
    smsc: ThreadedSmsc,
    server_factory: type,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "node"
    start = partial(server_factory.start, *node_args, data_dir=data_dir, env=NODE_ENV)
    first: RunningServer = start()
    number = buy(first, PhoneNumberCapabilityType.INBOUND_OUTBOUND, area_code="312")
    subscribe(first, receiver, [RECEIVED])
    peer = smsc.smsc

    incoming = "Part one arrives before the crash, " * 5 + "and {this} after it."
    septets = gsm_encode(incoming)
    parts = [septets[:153], septets[153:]]
    fields = {
        "source_addr": HANDSET.lstrip("+"), "source_addr_ton": 1,
        "destination_addr": number.lstrip("+"), "dest_addr_ton": 1,
        "esm_class": 0x40,
    }  # fmt: skip

    def send(sequence: int) -> int:
        udh = b"\x05\x00\x03\x5c\x02" + bytes([sequence])
        deliver = peer.send_deliver(**fields, short_message=udh + parts[sequence - 1])
        return smsc.call(deliver)

    # The first part is acknowledged, so the SMSC will never send it again.
    assert send(1) == 0
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    start()
    wait_until("the link bound again", lambda: len(peer.binds) == 2 or None)
    assert send(2) == 0

    received = one_event(receiver, RECEIVED)
    assert received["data"]["Message"] == incoming
    assert (received["data"]["From"], received["data"]["To"]) == (HANDSET, number)
