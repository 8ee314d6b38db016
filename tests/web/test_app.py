"""The demo app in Chromium: demo users sign in through the trusted service, chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningServer, start_server
from tests.realtime.support import new_user
from tests.web.support import (
    HAVE_CHROMIUM,
    chromium,
    screenshot,
    signed_in_page,
    trusted_service,
)

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason="Debian's chromium is not installed"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(Path(tmp_path_factory.mktemp("web-app")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(node: RunningServer) -> Iterator[str]:
    with trusted_service(node) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def test_the_service_lets_the_node_s_page_call_it(
    node: RunningServer, service: str
) -> None:
    preflight = httpx.options(
        f"{service}/switchboard-token",
        headers={
            "Origin": node.http_endpoint,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    stranger = httpx.options(
        f"{service}/signin",
        headers={
            "Origin": "http://elsewhere.example",
            "Access-Control-Request-Method": "POST",
        },
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == node.http_endpoint
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers


def test_the_calling_module_is_served(node: RunningServer) -> None:
    sdk = httpx.get(f"{node.http_endpoint}/sdk/calling.js")
    index = httpx.get(f"{node.http_endpoint}/sdk/index.js")

    assert sdk.status_code == 200
    assert sdk.headers["content-type"].startswith("text/javascript")
    assert "export class CallClient" in sdk.text
    assert "CallClient," in index.text


async def test_a_wrong_service_address_is_reported(
    node: RunningServer, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{node.http_endpoint}/?service=http://127.0.0.1:9")
    await page.click('.demo-user[data-user="alice"]')

    await expect(page.locator("#error")).to_have_text(
        "Could not sign in: the sign-in service at http://127.0.0.1:9 cannot be reached"
    )
    await expect(page.locator("#signin-view")).to_be_visible()


async def test_demo_users_sign_in_and_chat_live(
    node: RunningServer, service: str, browser: Browser
) -> None:
    picker = await browser.new_page(viewport={"width": 1280, "height": 800})
    await picker.goto(f"{node.http_endpoint}/?service={service}")
    await expect(picker.locator(".demo-user")).to_have_text(
        ["AAlice", "BBob", "CCarol"]
    )
    await screenshot(picker, "app-sign-in")
    await picker.close()
    _, alice = await signed_in_page(browser, node, service, "alice")
    _, bob = await signed_in_page(browser, node, service, "bob")

    # Each sees the others of the service as people to call or chat with.
    await expect(alice.locator(".contact .who")).to_have_text(["Bob", "Carol"])
    await expect(bob.locator(".contact .who")).to_have_text(["Alice", "Carol"])

    # Alice starts a chat with Bob; it shows up in Bob's list as it is made.
    await alice.check('.contact[data-user="bob"] input')
    await alice.click("#group-chat")
    await expect(alice.locator("#topic")).to_have_text("Alice, Bob")
    await expect(bob.locator("#threads .thread")).to_have_text(["Alice, Bob"])

    await alice.fill("#text", "Hi Bob <b>!</b>")
    await alice.click("#send")
    await expect(bob.locator("#threads .thread.unread")).to_have_count(1)
    await bob.click("#threads .thread")
    await expect(bob.locator("#messages li")).to_have_text(["AliceHi Bob <b>!</b>"])

    await bob.fill("#text", "Hello Alice")
    await bob.click("#send")
    await expect(alice.locator("#messages li")).to_have_text(
        ["AliceHi Bob <b>!</b>", "BobHello Alice"]
    )
    await expect(alice.locator("#messages li.mine")).to_have_text(
        ["AliceHi Bob <b>!</b>"]
    )
    await screenshot(alice, "app-chat")

    # A reload keeps the tab's user; signing out returns to the picker.
    await bob.reload()
    await expect(bob.locator("#me")).to_have_text("Signed in as Bob")
    await bob.click("#signout")
    await expect(bob.locator("#signin-view")).to_be_visible()


REQUESTS = """async ({ token, callee }) => {
  const { RealtimeConnection } = await import("/sdk/index.js");
  const rt = new RealtimeConnection({ token });
  await rt.connect();
  const failure = async (method, params) => {
    try {
      await rt.request(method, params);
      return null;
    } catch (error) {
      return [error.name, error.code, error.status, error.message];
    }
  };
  const answers = {};
  answers.empty = await failure("call.start", { targets: [] });
  const { call } = await rt.request("call.start", { targets: [callee], video: true });
  answers.started = [call.state, call.kind, call.participants.length];
  answers.canceled = await rt.request("call.cancel", { callId: call.callId });
  answers.again = await failure("call.cancel", { callId: call.callId });
  rt.close();
  answers.closed = await failure("call.cancel", { callId: call.callId });
  return answers;
}"""


async def test_requests_resolve_with_results_and_reject_with_codes(
    node: RunningServer, browser: Browser
) -> None:
    _, token = await new_user(node, ("chat", "voip"))
    callee, _ = await new_user(node, ("voip",))
    page = await browser.new_page()
    await page.goto(f"{node.http_endpoint}/")

    answers = await page.evaluate(REQUESTS, {"token": token, "callee": callee})

    assert answers["empty"][:3] == ["RealtimeError", "BadRequest", 400]
    assert answers["empty"][3].startswith("call.start: ")
    assert answers["started"] == ["ringing", "direct", 2]
    assert answers["canceled"] == {}
    assert answers["again"][:3] == ["RealtimeError", "Conflict", 409]
    assert answers["closed"] == [
        "RealtimeError",
        "NotConnected",
        0,
        "call.cancel: the connection is not live",
    ]
