"""A person on the virtual phone page and a customer's app text each other.

A node of its own sells a number through the official phone numbers client and
sends webhooks to a receiver on loopback. In headless Chromium a person on a
handset texts that number, and the webhook gets `SMSReceived`; the app answers
through the official SMS client, and the page shows the answer without a reload.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.communication.phonenumbers import PhoneNumberCapabilityType
from azure.communication.sms import SmsClient
from azure.eventgrid import EventGridEvent, SystemEventNames
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import RunningServer
from tests.events.conftest import NODE_ENV
from tests.events.receiver import Receiver, ThreadedReceiver
from tests.sms.conftest import buy, events_of, subscribe, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RECEIVED = "Microsoft.Communication.SMSReceived"
HANDSET = "+12125550142"
"""A fictional NANP number: a handset on the virtual network, not Switchboard's."""

PAGE_WAIT_MS = 20_000
"""How long the page may take to show a change; generous for a busy machine."""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture
def node(server_factory: type) -> RunningServer:
    """A node of its own whose webhooks may reach loopback, with quick reports."""
    env = {**NODE_ENV, "SWITCHBOARD_TELEPHONY_VIRTUAL_REPORT_DELAY_S": "0.2"}
    server: RunningServer = server_factory.start(env=env)
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver running on its own loop."""
    threaded = ThreadedReceiver(Receiver())
    yield threaded.receiver
    threaded.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright's sync API."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        yield chromium
        chromium.close()


def test_a_person_and_an_app_text_each_other_through_the_virtual_phone(
    node: RunningServer, receiver: Receiver, browser: Browser
) -> None:
    number = buy(node, PhoneNumberCapabilityType.INBOUND_OUTBOUND)
    subscribe(node, receiver, [RECEIVED])

    page = browser.new_page()
    page.goto(f"{node.http_endpoint}/virtual-phone")
    expect(page.locator("#status")).to_have_text("live", timeout=PAGE_WAIT_MS)
    # Set once: still there at the end only if the page never reloaded.
    page.evaluate("window.loadedOnce = true")

    # A person puts a handset on the network and texts the number just bought.
    page.fill("#new-number", HANDSET)
    page.click("#add-handset")
    card = page.locator(f'article.handset[data-number="{HANDSET}"]')
    expect(card.locator("h2")).to_have_text(HANDSET, timeout=PAGE_WAIT_MS)
    card.locator(".compose .to").fill(number)
    card.locator(".compose .text").fill("Table for two at 8? ✓")
    card.locator(".compose .send").click()
    sent = card.locator("li.message.fromHandset")
    expect(sent.locator(".text")).to_have_text(
        ["Table for two at 8? ✓"], timeout=PAGE_WAIT_MS
    )
    expect(sent).to_have_attribute("data-status", "received", timeout=PAGE_WAIT_MS)
    expect(card.locator(".error")).to_have_text("")

    # The webhook receives it as SMSReceived, from the handset to the number.
    def arrived() -> list[dict[str, Any]] | None:
        return events_of(receiver, RECEIVED) or None

    [event] = wait_until("SMSReceived at the webhook", arrived)
    parsed = EventGridEvent.from_dict(event)
    assert parsed.event_type == SystemEventNames.AcsSmsReceivedEventName
    assert parsed.subject == "/phonenumber/" + number.lstrip("+")
    assert parsed.data["From"] == HANDSET
    assert parsed.data["To"] == number
    assert parsed.data["Message"] == "Table for two at 8? ✓"
    assert parsed.data["MessageId"].startswith("Incoming_")

    # The app answers through the SMS client; the handset shows it live.
    sms = SmsClient.from_connection_string(node.connection_string)
    [result] = sms.send(from_=number, to=HANDSET, message="Booked: 8pm, two 🍝")
    assert result.successful
    assert result.http_status_code == 202
    assert result.to == HANDSET
    answer = card.locator("li.message.toHandset")
    expect(answer.locator(".text")).to_have_text(
        ["Booked: 8pm, two 🍝"], timeout=PAGE_WAIT_MS
    )
    expect(answer.locator(".meta")).to_contain_text(f"from {number}")
    expect(answer).to_have_attribute("data-status", "delivered", timeout=PAGE_WAIT_MS)
    assert page.evaluate("window.loadedOnce") is True

    # The conversation reads in order, and one event was all the webhook got.
    expect(card.locator("li.message .text")).to_have_text(
        ["Table for two at 8? ✓", "Booked: 8pm, two 🍝"]
    )
    assert len(events_of(receiver, RECEIVED)) == 1
    page.close()
