"""The virtual phone page in headless Chromium, kept live across two nodes.

The node under test serves the page; a second virtual carrier in this process,
on the same database and Redis, plays another node that puts a message on a
handset. The page must show it without a reload and must text Switchboard back.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from switchboard.bus import open_bus
from switchboard.config import TelephonySettings
from switchboard.core.clock import system_clock
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import OutboundSms
from switchboard.telephony.carriers.setup import NO_SMS_SERVICE
from switchboard.telephony.carriers.virtual import VirtualCarrier
from tests.conftest import REDIS_URL, RunningServer, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SWITCHBOARD_NUMBER = "+14255550111"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(
        Path(tmp_path_factory.mktemp("virtual-phone")),
        "--redis",
        REDIS_URL,
        env={"SWITCHBOARD_TELEPHONY_VIRTUAL_REPORT_DELAY_S": "0.2"},
    )
    yield server
    server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def other_node(node: RunningServer) -> AsyncIterator[VirtualCarrier]:
    """The virtual network as another node on the same database and Redis sees it."""
    db = Database(f"sqlite+aiosqlite:///{node.data_dir / 'switchboard.db'}")
    bus = await open_bus(REDIS_URL)
    carrier = VirtualCarrier(
        db, bus, TelephonySettings(virtual_report_delay_s=0.2), system_clock
    )
    # Reports go nowhere from here: this node has no SMS service.
    await carrier.start(NO_SMS_SERVICE)
    yield carrier
    await carrier.stop()
    await bus.close()
    await db.close()


def handset() -> str:
    """A fresh handset number in a range kept for drama (Ofcom, Leeds)."""
    while True:
        n = uuid.uuid4().int % 1000
        if n % 100 < 96:
            return f"+441134960{n:03d}"


async def test_a_handset_shows_texts_live_and_texts_switchboard(
    node: RunningServer, browser: Browser, other_node: VirtualCarrier
) -> None:
    number = handset()
    page = await browser.new_page()
    await page.goto(f"{node.http_endpoint}/virtual-phone")
    await expect(page.locator("#status")).to_have_text("live")
    await expect(page.locator("#blocks li")).to_have_count(5)

    # A person puts a handset on the network.
    await page.fill("#new-number", number)
    await page.click("#add-handset")
    card = page.locator(f'article.handset[data-number="{number}"]')
    await expect(card.locator("h2")).to_have_text(number)

    # Another node delivers a message to it; the page shows it without a reload.
    await other_node.submit(
        OutboundSms("Outgoing_e2e", SWITCHBOARD_NUMBER, number, "Code <b>42</b>", False)
    )
    received = card.locator("li.message.toHandset")
    await expect(received.locator(".text")).to_have_text(["Code <b>42</b>"])
    await expect(received).to_have_attribute("data-status", "delivered")

    # The person answers from the page, and Switchboard takes the text.
    await card.locator(".compose .to").fill(SWITCHBOARD_NUMBER)
    await card.locator(".compose .text").fill("Thanks 🙏")
    await card.locator(".compose .send").click()
    sent = card.locator("li.message.fromHandset")
    await expect(sent.locator(".text")).to_have_text(["Thanks 🙏"])
    await expect(sent).to_have_attribute("data-status", "received")
    await expect(card.locator(".compose .text")).to_have_value("")

    # What the network refuses is said on the handset.
    await card.locator(".compose .to").fill("+13125550100")
    await card.locator(".compose .text").fill("hello?")
    await card.locator(".compose .send").click()
    await expect(card.locator(".error")).to_have_text(
        "+13125550100 is not a Switchboard number on the virtual network"
    )
    await page.fill("#new-number", "555-0100")
    await page.click("#add-handset")
    await expect(page.locator("#error")).to_have_text(
        "'555-0100' is not an E.164 phone number"
    )
    await page.close()

    # The API, read from this node, agrees with the page.
    conversation = httpx.get(
        f"{node.http_endpoint}/virtual-phone/api/handsets/{number}"
    ).json()
    assert [
        (m["direction"], m["peer"], m["text"], m["status"])
        for m in conversation["messages"]
    ] == [
        ("toHandset", SWITCHBOARD_NUMBER, "Code <b>42</b>", "delivered"),
        ("fromHandset", SWITCHBOARD_NUMBER, "Thanks 🙏", "received"),
    ]
