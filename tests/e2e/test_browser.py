"""The demo page in headless Chromium: sign in with a token and see a thread live."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from switchboard.client import ChatClient
from tests.conftest import RunningServer, start_server
from tests.realtime.support import new_user, thread_with

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(Path(tmp_path_factory.mktemp("browser")))
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


async def sign_in(page: Page, node: RunningServer, token: str, thread: str) -> None:
    # Browsers on localhost use plain HTTP; the page talks to its own origin.
    await page.goto(f"{node.http_endpoint}/")
    await page.fill("#token", token)
    await page.fill("#thread", thread)
    await page.fill("#name", "Browser Bea")
    await page.click("#connect")
    await expect(page.locator("#status")).to_have_text("live")


def test_the_page_and_the_sdk_are_served(node: RunningServer) -> None:
    page = httpx.get(f"{node.http_endpoint}/")
    sdk = httpx.get(f"{node.http_endpoint}/sdk/realtime.js")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/app/main.js"></script>' in page.text
    assert sdk.status_code == 200
    assert sdk.headers["content-type"].startswith("text/javascript")
    assert "export class RealtimeConnection" in sdk.text


async def test_the_page_shows_a_message_as_it_is_sent(
    node: RunningServer, browser: Browser
) -> None:
    (reader, reader_token), (_, writer_token) = [await new_user(node) for _ in range(2)]
    thread = await thread_with(node, writer_token, [reader], topic="Browser test")
    async with ChatClient(node.endpoint, writer_token) as chat:
        await chat.send_message(thread, "sent before", sender_display_name="Wes")

        page = await browser.new_page()
        await sign_in(page, node, reader_token, thread)
        await expect(page.locator("#topic")).to_have_text("Browser test")
        items = page.locator("#messages li")
        await expect(items).to_have_text(["Wessent before"])

        await chat.send_message(
            thread, "live 👋🏽 <b>now</b>", sender_display_name="Wes"
        )
        await expect(items).to_have_text(["Wessent before", "Weslive 👋🏽 <b>now</b>"])

        # And the other way: a message typed in the page reaches the thread.
        await page.fill("#text", "typed in the browser")
        await page.click("#send")
        await expect(items.nth(2)).to_have_text("Browser Beatyped in the browser")
        history = await chat.list_messages(thread)
        await page.close()

    texts = [m["content"]["message"] for m in history if m["type"] == "text"]
    assert texts == ["typed in the browser", "live 👋🏽 <b>now</b>", "sent before"]
