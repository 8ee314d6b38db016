"""What the demo app's browser tests share: the trusted service, Chromium, pages."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import uvicorn
from examples.trusted_service.service import create_app
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.conftest import RunningServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()

# Fake camera, microphone and screen; media plays without a click.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

SCREENSHOTS = os.environ.get("SWITCHBOARD_SCREENSHOT_DIR", "")
"""Where screenshots of the app go when set (docs/images when refreshing docs)."""


@contextmanager
def trusted_service(node: RunningServer) -> Iterator[str]:
    """The sample trusted service on a free port, letting the node's page call it."""
    app = create_app(node.connection_string, origins=[node.http_endpoint])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the trusted service did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with fake media devices."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in_page(
    browser: Browser, node: RunningServer, service: str, user: str, query: str = ""
) -> tuple[BrowserContext, Page]:
    """A window of its own with the demo app, signed in as a demo user."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.on("console", lambda m: print(f"[{user} console] {m.type}: {m.text}"))
    page.on("crash", lambda _: print(f"[{user}] the page crashed"))
    page.on("pageerror", lambda e: print(f"[{user}] page error: {e}"))
    await page.goto(f"{node.http_endpoint}/?service={service}{query}")
    await page.click(f'.demo-user[data-user="{user}"]')
    await expect(page.locator("#status")).to_have_text("live")
    await expect(page.locator("#me")).to_have_text(f"Signed in as {user.title()}")
    return context, page


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot of the page for the docs, when a folder is configured."""
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
