"""Headless Chromium: two pages talk over data channels relayed by the node's TURN.

Each page fetches its ICE servers from `/switchboard/v1/relay` with a user
token, gathers relay candidates only, and the test carries the offer and the
answer between the pages.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.communication.identity.aio import CommunicationIdentityClient
from playwright.async_api import Browser, Page, Route, async_playwright

from tests.conftest import RunningServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RELAY_PORTS = (47200, 47299)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)

# The page is served at the node's own origin, so the fetch below needs no CORS.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>relay test</title>
<script>
let pc, channel;
const received = [];
const candidates = [];

async function start(token) {
  const answer = await fetch("/switchboard/v1/relay?ttl=600", {
    headers: {Authorization: "Bearer " + token},
  });
  const config = await answer.json();
  pc = new RTCPeerConnection({
    iceServers: config.iceServers, iceTransportPolicy: "relay",
  });
  pc.onicecandidate = (e) => { if (e.candidate) candidates.push(e.candidate); };
  pc.ondatachannel = (e) => listen(e.channel);
  return config.iceServers[0].username;
}

function listen(ch) {
  channel = ch;
  ch.onmessage = (e) => received.push(e.data);
}

function gathered() {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function offer() {
  listen(pc.createDataChannel("chat"));
  await pc.setLocalDescription(await pc.createOffer());
  await gathered();
  return pc.localDescription.toJSON();
}

async function answer(remote) {
  await pc.setRemoteDescription(remote);
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered();
  return pc.localDescription.toJSON();
}

function opened() {
  if (channel && channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve) => {
    const wait = () => channel && channel.readyState === "open"
      ? resolve() : setTimeout(wait, 20);
    wait();
  });
}

async function selectedPair() {
  const stats = await pc.getStats();
  for (const report of stats.values()) {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      const pair = stats.get(report.selectedCandidatePairId);
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      return {
        local: [local.candidateType, local.address, local.port, local.relayProtocol],
        remote: [remote.candidateType, remote.address, remote.port],
      };
    }
  }
  return null;
}
</script>
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream"],
        )
        yield chromium
        await chromium.close()


async def open_page(browser: Browser, node: RunningServer) -> Page:
    page = await browser.new_page()

    async def serve(route: Route) -> None:
        await route.fulfill(body=PAGE, content_type="text/html; charset=utf-8")

    await page.route("**/relay-test.html", serve)
    await page.goto(f"{node.http_endpoint}/relay-test.html")
    return page


async def voip_user(node: RunningServer) -> tuple[str, str]:
    """A new user and a calling token for it, from the official async client."""
    async with CommunicationIdentityClient.from_connection_string(
        node.connection_string
    ) as identity:
        user, token = await identity.create_user_and_token(["voip"])
    return user.raw_id, token.token


def relayed_packets(node: RunningServer) -> float:
    metrics = httpx.get(f"{node.http_endpoint}/metrics").text
    return sum(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("switchboard_turn_relayed_packets_total{")
    )


async def test_two_pages_exchange_messages_through_the_relay(
    server_factory: type, browser: Browser
) -> None:
    node: RunningServer = server_factory.start(
        env={
            # The pages' relayed addresses are each other's peers, on loopback.
            "SWITCHBOARD_TURN_ALLOWED_PEERS": "127.0.0.0/8",
            "SWITCHBOARD_TURN_PUBLIC_HOST": "127.0.0.1",
            "SWITCHBOARD_TURN_RELAY_PORT_MIN": str(RELAY_PORTS[0]),
            "SWITCHBOARD_TURN_RELAY_PORT_MAX": str(RELAY_PORTS[1]),
        }
    )
    users = [await voip_user(node) for _ in range(2)]
    caller, callee = [await open_page(browser, node) for _ in range(2)]

    # Each page gets credentials in its own user's name.
    for page, (user, token) in zip((caller, callee), users, strict=True):
        username = await page.evaluate("start", token)
        assert username.split(":", 1)[1] == user

    # Signalling, carried by the test.
    offer = await caller.evaluate("offer()")
    answer = await callee.evaluate("answer", offer)
    await caller.evaluate("(remote) => pc.setRemoteDescription(remote)", answer)
    for page in (caller, callee):
        await page.evaluate("opened()")

    # Only relay candidates, all from this node's relay range.
    for page in (caller, callee):
        gathered: list[dict[str, Any]] = await page.evaluate(
            "candidates.map((c) => ({type: c.type, address: c.address, port: c.port}))"
        )
        assert gathered
        for candidate in gathered:
            assert candidate["type"] == "relay"
            assert candidate["address"] == "127.0.0.1"
            assert RELAY_PORTS[0] <= candidate["port"] <= RELAY_PORTS[1]

    await caller.evaluate("channel.send('hello from the caller')")
    await callee.wait_for_function("received.length === 1")
    await callee.evaluate("channel.send('hello back')")
    await caller.wait_for_function("received.length === 1")
    assert await callee.evaluate("received") == ["hello from the caller"]
    assert await caller.evaluate("received") == ["hello back"]

    pair = await caller.evaluate("selectedPair()")
    assert pair["local"][0] == "relay" and pair["remote"][0] == "relay"
    assert pair["local"][1] == "127.0.0.1"
    assert relayed_packets(node) > 0
