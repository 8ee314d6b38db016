"""SMS test fixtures: a node with the virtual network, numbers bought by API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from azure.communication.phonenumbers import (
    PhoneNumberAssignmentType,
    PhoneNumberCapabilities,
    PhoneNumberCapabilityType,
    PhoneNumbersClient,
    PhoneNumberType,
)
from azure.communication.sms import SmsClient

from tests.conftest import RunningServer, signed, start_server
from tests.events.conftest import V
from tests.events.receiver import Receiver, ThreadedReceiver

T = TypeVar("T")

NODE_ENV = {
    "SWITCHBOARD_EVENTS_ALLOWED_TARGETS": "127.0.0.0/8",
    "SWITCHBOARD_SHUTDOWN_GRACE_S": "1",
    "SWITCHBOARD_SMS_RETRY_BASE_S": "0.05",
    "SWITCHBOARD_SMS_RETRY_MAX_S": "0.2",
    "SWITCHBOARD_SMS_SUBMIT_ATTEMPTS": "3",
    "SWITCHBOARD_SMS_NUMBER_REQUESTS": "5",
    "SWITCHBOARD_SMS_RATE_WINDOW_S": "60",
    "SWITCHBOARD_TELEPHONY_VIRTUAL_REPORT_DELAY_S": "0.05",
}
"""Loopback webhooks, fast retries, and a small per-number budget to reach 429."""

HANDSET = "+14255551234"
"""A valid US number that is no Switchboard number: a handset on the network."""


def buy(
    server: RunningServer,
    sms: PhoneNumberCapabilityType,
    area_code: str = "425",
    number_type: PhoneNumberType = PhoneNumberType.GEOGRAPHIC,
) -> str:
    """Search for and purchase one number through the phone numbers API."""
    client = PhoneNumbersClient.from_connection_string(server.connection_string)
    search = client.begin_search_available_phone_numbers(
        "US",
        number_type,
        PhoneNumberAssignmentType.APPLICATION,
        PhoneNumberCapabilities(
            calling=PhoneNumberCapabilityType.INBOUND_OUTBOUND, sms=sms
        ),
        area_code=area_code,
        quantity=1,
        polling_interval=0.01,
    ).result()
    client.begin_purchase_phone_numbers(
        search.search_id, polling_interval=0.01
    ).result()
    number: str = search.phone_numbers[0]
    return number


def handset_messages(server: RunningServer, handset: str) -> list[dict[str, Any]]:
    """What the virtual network shows on a handset, oldest first."""
    answer = httpx.get(
        f"{server.endpoint}/virtual-phone/api/handsets/{handset}", timeout=10
    )
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    messages: list[dict[str, Any]] = answer.json()["messages"]
    return messages


def text_from_handset(
    server: RunningServer, handset: str, to: str, text: str
) -> dict[str, Any]:
    """A handset on the virtual network texts `to`."""
    base = f"{server.endpoint}/virtual-phone/api/handsets"
    httpx.post(base, json={"number": handset}, timeout=10).raise_for_status()
    answer = httpx.post(
        f"{base}/{handset}/messages", json={"to": to, "text": text}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    sent: dict[str, Any] = answer.json()
    return sent


def wait_until(what: str, check: Callable[[], T | None]) -> T:
    """Poll `check` until it gives something; fail after a generous while."""
    for _ in range(400):
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def subscribe(node: RunningServer, receiver: Receiver, types: list[str]) -> None:
    """A webhook subscription (Event Grid schema) to `types`, once active."""
    name = f"sms-{uuid.uuid4().hex[:8]}"
    body = {"targetUrl": receiver.url, "eventTypes": types}
    answer = signed(
        node, "PUT", f"/eventSubscriptions/{name}?{V}", json.dumps(body).encode()
    )
    assert answer.status_code == 201, answer.text
    wait_until(
        f"subscription {name} to become active",
        lambda: (
            signed(node, "GET", f"/eventSubscriptions/{name}?{V}").json()["state"]
            == "active"
            or None
        ),
    )


def events_of(receiver: Receiver, event_type: str) -> list[dict[str, Any]]:
    """The events of one type the receiver got, in arrival order."""
    found = [item.json()[0] for item in receiver.events()]
    return [event for event in found if event["eventType"] == event_type]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A node per module and database, with the virtual network and webhooks."""
    args: list[str] = []
    if request.param == "postgresql":
        args = ["--database", request.getfixturevalue("new_postgres_database")()]
    server = start_server(tmp_path_factory.mktemp("sms"), *args, env=NODE_ENV)
    yield server
    server.stop()


@pytest.fixture
def sender(node: RunningServer) -> str:
    """A number of its own for each test, so per-number budgets do not mix."""
    return buy(node, PhoneNumberCapabilityType.INBOUND_OUTBOUND)


@pytest.fixture
def sms(node: RunningServer) -> SmsClient:
    return SmsClient.from_connection_string(node.connection_string)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver running on its own loop."""
    threaded = ThreadedReceiver(Receiver())
    yield threaded.receiver
    threaded.stop()
