"""Calls in the demo app: Chromium with fake media, a node with its Janus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.communication.identity import CommunicationUserIdentifier
from azure.communication.rooms import ParticipantRole, RoomParticipant, RoomsClient
from playwright.async_api import Browser, Page, expect

from tests.calls.support import V, rest
from tests.conftest import (
    NETNS_ADDRESS,
    NETNS_MEDIA_ENV,
    RunningServer,
    start_server,
)
from tests.realtime.support import new_user
from tests.web.support import (
    HAVE_CHROMIUM,
    chromium,
    screenshot,
    signed_in_page,
    trusted_service,
)

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed"),
]

# What every subscription of the page has received so far, by participant,
# feed kind and media kind (RTCInboundRtpStreamStats of W3C webrtc-stats §7.4).
RECEIVED = """async () => {
  const call = globalThis.switchboardDemo.callView.call;
  if (!call) return {};
  const answer = {};
  for (const [name, leg] of Object.entries(await call.stats())) {
    if (!name.startsWith("feed:")) continue;
    for (const s of leg.stats) {
      if (s.type !== "inbound-rtp") continue;
      answer[`${leg.participant} ${leg.kind} ${s.kind}`] = {
        bytes: s.bytesReceived ?? 0,
        frames: s.framesDecoded ?? 0,
        width: s.frameWidth ?? 0,
        height: s.frameHeight ?? 0,
        samples: s.totalSamplesReceived ?? 0,
      };
    }
  }
  return answer;
}"""

# The local candidate types of the page's peer connections' selected pairs.
CANDIDATE_TYPES = """async () => {
  const call = globalThis.switchboardDemo.callView.call;
  const types = [];
  for (const leg of Object.values(await call.stats())) {
    const byId = new Map(leg.stats.map((s) => [s.id, s]));
    for (const s of leg.stats) {
      if (s.type !== "transport" || !s.selectedCandidatePairId) continue;
      const pair = byId.get(s.selectedCandidatePairId);
      types.push(byId.get(pair.localCandidateId).candidateType);
    }
  }
  return types;
}"""


# What the page's main publication sends per video layer (RTCOutboundRtpStreamStats
# of W3C webrtc-stats §7.6), and whether the media server's answer takes the layers
# (a=simulcast with `recv`, RFC 8853 §5.1).
SENT_LAYERS = """async () => {
  const call = globalThis.switchboardDemo.callView.call;
  const main = (await call.stats()).main;
  const layers = {};
  for (const s of main?.stats ?? []) {
    if (s.type !== "outbound-rtp" || s.kind !== "video") continue;
    layers[s.rid ?? ""] = { bytes: s.bytesSent ?? 0, width: s.frameWidth ?? 0 };
  }
  const answer = call._main?.pc.remoteDescription?.sdp ?? "";
  return { layers, accepted: answer.includes("a=simulcast:recv ") };
}"""


# A page of the node joins a room's call through the SDK as the given user.
JOIN_ROOM = """async ({ roomId, token }) => {
  const { CallClient } = await import("/sdk/index.js");
  const calls = await CallClient.create({ token });
  const call = await calls.join({ roomId }, { video: true });
  globalThis.roomCall = call;
  globalThis.roomData = [];
  call.addEventListener("data", (e) => globalThis.roomData.push(e.detail));
  // Played, as an app would: Chromium counts audio samples only as they play.
  const play = ({ stream }) => {
    const element = document.createElement("video");
    element.autoplay = true;
    element.srcObject = stream;
    document.body.append(element);
  };
  call.addEventListener("streamAdded", (e) => play(e.detail));
  for (const participant of call.participants.values()) {
    for (const published of participant.streams.values()) play(published);
  }
  return {
    role: call.role,
    capabilities: call.capabilities,
    muted: call.muted,
    video: call.video,
    publishing: call._main !== null,
    localStream: call.localStream !== null,
  };
}"""

# What a Consumer's page gets when it tries to send, and the call's state after.
CONSUMER_SENDS = """async () => {
  const call = globalThis.roomCall;
  const errors = {};
  const tries = {
    unmute: () => call.unmute(),
    startVideo: () => call.startVideo(),
    sendData: () => call.sendData("hello"),
    startScreenShare: () => call.startScreenShare(),
    server: () => call._request("call.update", { callId: call.id, muted: false }),
  };
  for (const [name, attempt] of Object.entries(tries)) {
    try {
      await attempt();
      errors[name] = null;
    } catch (error) {
      errors[name] = error.status ? [error.status, error.message] : error.message;
    }
  }
  return { errors, state: call.state, publishing: call._main !== null };
}"""


ROOM_RECEIVED = RECEIVED.replace(
    "globalThis.switchboardDemo.callView.call", "globalThis.roomCall"
)
"""RECEIVED for a page that joined a room's call with JOIN_ROOM."""


def media_env() -> dict[str, str]:
    """A node whose Janus and TURN server both use the namespace's address."""
    # Both on one address: the kernel drops a packet that arrives over the veth
    # pair from an address of its own, so Janus on one end could not answer a
    # relay on the other.
    address = NETNS_ADDRESS
    return {
        **NETNS_MEDIA_ENV,
        "SWITCHBOARD_TURN_LISTEN_HOST": address,
        "SWITCHBOARD_TURN_RELAY_HOST": address,
        "SWITCHBOARD_TURN_PUBLIC_HOST": address,
        "SWITCHBOARD_TURN_ALLOWED_PEERS": f"{address}/32",
        # Chromium takes a relay per interface and transport for every peer
        # connection (six per call leg here), and the demo users are the same
        # Switchboard users from test to test.
        "SWITCHBOARD_TURN_MAX_ALLOCATIONS_PER_USER": "200",
    }


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(Path(tmp_path_factory.mktemp("web-calls")), env=media_env())
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


async def received(page: Page) -> dict[str, dict[str, int]]:
    """The page's inbound RTP figures by `participant feed-kind media-kind`."""
    figures: dict[str, dict[str, int]] = await page.evaluate(RECEIVED)
    return figures


async def until_received(
    page: Page, senders: list[str], kind: str = "main"
) -> dict[str, dict[str, int]]:
    """Wait until video frames of a real size and audio samples arrived from each."""
    wanted = [f"{s} {kind} video" for s in senders]
    if kind == "main":
        wanted += [f"{s} main audio" for s in senders]
    figures: dict[str, dict[str, int]] = {}
    for _ in range(300):
        figures = await received(page)
        if all(key in figures for key in wanted) and all(
            figures[key]["frames"] > 0 and figures[key]["width"] > 0
            if key.endswith("video")
            else figures[key]["samples"] > 0
            for key in wanted
        ):
            return figures
        await asyncio.sleep(0.1)
    raise AssertionError(f"media from {senders} did not arrive: {figures}")


async def room_page(browser: Browser, node: RunningServer) -> Page:
    """A window of its own on the node's origin, where the SDK's modules load."""
    context = await browser.new_context()
    page = await context.new_page()
    page.on("console", lambda m: print(f"[room console] {m.type}: {m.text}"))
    await page.goto(f"{node.http_endpoint}/healthz")
    return page


async def user_id(page: Page) -> str:
    """The Switchboard user id the page signed in as."""
    raw: str = await page.evaluate("globalThis.switchboardDemo.userId")
    return raw


async def two_in_a_call(
    browser: Browser, node: RunningServer, service: str, query: str = ""
) -> tuple[Page, Page]:
    """Alice calls Bob from the contact list and Bob accepts with video."""
    _, alice = await signed_in_page(browser, node, service, "alice", query)
    _, bob = await signed_in_page(browser, node, service, "bob", query)
    await alice.click('.contact[data-user="bob"] .call')
    await expect(bob.locator("#incoming")).to_be_visible()
    await expect(bob.locator("#incoming-title")).to_have_text("Alice is calling")
    await expect(alice.locator("#call-state")).to_have_text("Ringing…")
    await screenshot(bob, "app-incoming-call")
    await bob.click("#accept")
    await expect(bob.locator("#call-state")).to_have_text("Connected")
    await expect(alice.locator("#call-state")).to_have_text("Connected")
    return alice, bob


async def test_two_users_see_and_hear_each_other_then_hang_up(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service)
    alice_id, bob_id = await user_id(alice), await user_id(bob)

    at_alice = await until_received(alice, [bob_id])
    at_bob = await until_received(bob, [alice_id])
    await asyncio.sleep(1)
    later_at_alice, later_at_bob = await received(alice), await received(bob)
    await screenshot(alice, "app-in-call")

    for before, after, sender in (
        (at_alice, later_at_alice, bob_id),
        (at_bob, later_at_bob, alice_id),
    ):
        video, audio = f"{sender} main video", f"{sender} main audio"
        assert after[video]["bytes"] > before[video]["bytes"]
        assert after[video]["frames"] > before[video]["frames"]
        assert after[video]["height"] > 0
        assert after[audio]["bytes"] > before[audio]["bytes"]
        assert after[audio]["samples"] > before[audio]["samples"]
    await expect(
        alice.locator(f'.tile[data-participant="{bob_id}"] .name')
    ).to_have_text("Bob")

    # Alice mutes and turns her camera off and on: Bob sees each change.
    alice_tile = bob.locator(f'.tile[data-participant="{alice_id}"]')
    await alice.click("#mute")
    await expect(alice.locator("#mute")).to_have_text("Unmute")
    await expect(alice_tile.locator(".flags")).to_have_text("muted")
    await alice.click("#camera")
    await expect(alice.locator("#camera")).to_have_text("Start video")
    await expect(alice_tile).to_have_class("tile no-video")
    frames = (await received(bob))[f"{alice_id} main video"]["frames"]
    await alice.click("#camera")
    await alice.click("#mute")
    await expect(alice_tile).to_have_class("tile")
    await expect(alice_tile.locator(".flags")).to_have_text("")
    await bob.wait_for_function(
        f"({RECEIVED})().then((r) => r[{alice_id!r} + ' main video'].frames > {frames})"
    )

    # Bob hangs up: both sides end, and Alice is told.
    await bob.click("#hangup")
    await expect(bob.locator("#call")).to_be_hidden()
    await expect(alice.locator("#call")).to_be_hidden()
    await expect(alice.locator("#notice")).to_have_text("Call ended")
    await expect(bob.locator("#notice")).to_have_text("Call ended")


async def test_the_camera_goes_out_in_simulcast_layers_and_still_arrives(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service)
    alice_id = await user_id(alice)

    # Chromium sends as many layers as the fake camera's 640x480 allows.
    sent: dict[str, Any] = {}
    for _ in range(300):
        sent = await alice.evaluate(SENT_LAYERS)
        if sum(layer["bytes"] > 0 for layer in sent["layers"].values()) >= 2:
            break
        await asyncio.sleep(0.1)
    assert sent["accepted"], "the media server's answer takes no simulcast"
    flowing = {rid for rid, layer in sent["layers"].items() if layer["bytes"] > 0}
    assert len(flowing) >= 2, sent
    assert "" not in flowing, sent

    # The media server relays one layer to Bob, who decodes it.
    before = await until_received(bob, [alice_id])
    await asyncio.sleep(1)
    after = await received(bob)
    video = f"{alice_id} main video"
    assert after[video]["bytes"] > before[video]["bytes"]
    assert after[video]["frames"] > before[video]["frames"]
    assert after[video]["width"] > 0 and after[video]["height"] > 0


async def test_a_call_without_simulcast_sends_one_encoding(
    node: RunningServer, service: str, browser: Browser
) -> None:
    _, alice = await signed_in_page(browser, node, service, "alice")
    await alice.evaluate("globalThis.switchboardDemo.calls.simulcast = false")
    _, bob = await signed_in_page(browser, node, service, "bob")
    await alice.click('.contact[data-user="bob"] .call')
    await bob.click("#accept")
    await until_received(bob, [await user_id(alice)])

    sent = await alice.evaluate(SENT_LAYERS)
    assert not sent["accepted"]
    assert list(sent["layers"]) == [""]
    assert sent["layers"][""]["bytes"] > 0


async def test_a_declined_call_ends_for_the_caller(
    node: RunningServer, service: str, browser: Browser
) -> None:
    _, alice = await signed_in_page(browser, node, service, "alice")
    _, bob = await signed_in_page(browser, node, service, "bob")
    await alice.click('.contact[data-user="bob"] .call')
    await expect(bob.locator("#incoming")).to_be_visible()

    await bob.click("#decline")

    await expect(bob.locator("#incoming")).to_be_hidden()
    await expect(alice.locator("#call")).to_be_hidden()
    await expect(alice.locator("#notice")).to_have_text("Declined")
    await expect(alice.locator("#notice")).to_have_attribute("data-reason", "declined")


async def test_a_canceled_call_stops_ringing_at_the_callee(
    node: RunningServer, service: str, browser: Browser
) -> None:
    _, alice = await signed_in_page(browser, node, service, "alice")
    _, bob = await signed_in_page(browser, node, service, "bob")
    await alice.click('.contact[data-user="bob"] .call')
    await expect(bob.locator("#incoming")).to_be_visible()
    await expect(alice.locator("#hangup")).to_have_text("Cancel")

    await alice.click("#hangup")

    await expect(alice.locator("#call")).to_be_hidden()
    await expect(alice.locator("#notice")).to_have_text("Canceled")
    await expect(bob.locator("#incoming")).to_be_hidden()
    await expect(bob.locator("#notice")).to_have_text(
        "Missed call from Alice (Canceled)"
    )


async def test_three_people_in_a_group_call_receive_each_other(
    node: RunningServer, service: str, browser: Browser
) -> None:
    pages = {
        name: (await signed_in_page(browser, node, service, name))[1]
        for name in ("alice", "bob", "carol")
    }
    ids = {name: await user_id(page) for name, page in pages.items()}
    alice = pages["alice"]
    await alice.check('.contact[data-user="bob"] input')
    await alice.check('.contact[data-user="carol"] input')
    await alice.click("#group-call")

    for callee in ("bob", "carol"):
        page = pages[callee]
        await expect(page.locator("#incoming-detail")).to_have_text(
            f"Video call with {'Carol' if callee == 'bob' else 'Bob'}"
        )
        await page.click("#accept")

    for name, page in pages.items():
        others = [ids[other] for other in pages if other != name]
        await until_received(page, others)
        await expect(page.locator(".tile")).to_have_count(3)
        names = ", ".join(other.title() for other in pages if other != name)
        await expect(page.locator("#call-title")).to_have_text(f"Call with {names}")
    await screenshot(alice, "app-group-call")

    # Carol leaves: the others see her go and stay in the call.
    await pages["carol"].click("#hangup")
    for name in ("alice", "bob"):
        await expect(pages[name].locator(".tile")).to_have_count(2)
        await expect(pages[name].locator("#call-state")).to_have_text("Connected")


async def test_a_shared_screen_reaches_the_other_side(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service)
    alice_id = await user_id(alice)

    await alice.click("#screen")

    await expect(alice.locator("#screen")).to_have_text("Stop sharing")
    await until_received(bob, [alice_id], kind="screen")
    await expect(bob.locator(".tile.screen .name")).to_have_text("Alice's screen")
    await expect(
        bob.locator(f'.tile[data-participant="{alice_id}"]:not(.screen) .flags')
    ).to_have_text("sharing")
    await screenshot(bob, "app-screen-share")

    await alice.click("#screen")
    await expect(bob.locator(".tile.screen")).to_have_count(0)


async def test_data_messages_arrive_with_their_sender(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service)
    alice_id, bob_id = await user_id(alice), await user_id(bob)
    await until_received(bob, [alice_id])
    await until_received(alice, [bob_id])

    await alice.click("#data-toggle")
    await alice.fill("#data-text", "ping ✓")
    await alice.click("#data-send")
    await expect(bob.locator("#data-log li")).to_have_text(["Aliceping ✓"])
    await expect(bob.locator("#data-log li")).to_have_attribute("data-from", alice_id)

    await bob.uncheck("#data-reliable")
    await bob.fill("#data-text", "pong")
    await bob.click("#data-send")
    await expect(alice.locator("#data-log li")).to_have_text(["Youping ✓", "Bobpong"])
    await expect(alice.locator("#data-log li").nth(1)).to_have_attribute(
        "data-from", bob_id
    )

    # The SDK's own view: binary payloads, sender ids, which channel carried them.
    await bob.evaluate(
        """() => {
          globalThis.seen = [];
          globalThis.switchboardDemo.callView.call.addEventListener("data", (e) => {
            const bytes = [...new Uint8Array(e.detail.payload)];
            globalThis.seen.push({ from: e.detail.from, bytes });
          });
        }"""
    )
    await alice.evaluate(
        """() => {
          const call = globalThis.switchboardDemo.callView.call;
          call.sendData(new Uint8Array([0, 1, 255]), { reliable: true });
        }"""
    )
    await bob.wait_for_function("globalThis.seen.length === 1")
    seen = await bob.evaluate("globalThis.seen")
    await screenshot(alice, "app-call-messages")
    assert seen == [{"from": alice_id, "bytes": [0, 1, 255]}]


async def test_media_flows_through_the_turn_relay_only(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service, "&ice=relay")
    alice_id, bob_id = await user_id(alice), await user_id(bob)

    await until_received(alice, [bob_id])
    await until_received(bob, [alice_id])

    for page in (alice, bob):
        types = await page.evaluate(CANDIDATE_TYPES)
        assert types, "no selected candidate pair"
        assert set(types) == {"relay"}


async def test_a_call_goes_on_after_the_realtime_connection_drops(
    node: RunningServer, service: str, browser: Browser
) -> None:
    alice, bob = await two_in_a_call(browser, node, service)
    alice_id, bob_id = await user_id(alice), await user_id(bob)
    await until_received(bob, [alice_id])
    feeds = "[...globalThis.switchboardDemo.callView.call._subscriptions.keys()]"
    before = await bob.evaluate(feeds)
    await alice.evaluate(
        """() => {
          const app = globalThis.switchboardDemo;
          app.rejoined = false;
          app.callView.call.addEventListener("rejoined", () => (app.rejoined = true));
          app.realtime._ws.close(4999, "network lost");
        }"""
    )

    # Alice's media handles went with her connection: she joins again by id,
    # publishes anew, and Bob subscribes to her new feed.
    await alice.wait_for_function("globalThis.switchboardDemo.rejoined")
    await bob.wait_for_function(
        f"(before) => {feeds}.length === 1 && {feeds}[0] !== before[0]", arg=before
    )
    await until_received(bob, [alice_id])
    await until_received(alice, [bob_id])
    await expect(alice.locator("#call-state")).to_have_text("Connected")
    await expect(bob.locator("#call-state")).to_have_text("Connected")


async def test_people_meet_in_a_group_call_by_its_name(
    node: RunningServer, service: str, browser: Browser
) -> None:
    _, alice = await signed_in_page(browser, node, service, "alice")
    _, bob = await signed_in_page(browser, node, service, "bob")

    for page in (alice, bob):
        await page.fill("#group-id", "standup")
        await page.click("#join-group button")
        await expect(page.locator("#call-title")).to_have_text("Group call standup")

    await until_received(alice, [await user_id(bob)])
    await until_received(bob, [await user_id(alice)])
    await expect(alice.locator("#call-state")).to_have_text("Connected")
    await expect(alice.locator("#error")).to_be_hidden()
    await expect(bob.locator(".tile.local .name")).to_have_text("Bob (you)")
    await expect(bob.locator(".tile:not(.local) .name")).to_have_text("Alice")


async def test_a_consumer_joins_a_room_call_and_sees_the_presenter(
    node: RunningServer, browser: Browser
) -> None:
    host_id, host_token = await new_user(node, ("voip",))
    viewer_id, viewer_token = await new_user(node, ("voip",))
    room = RoomsClient.from_connection_string(node.connection_string).create_room(
        participants=[
            RoomParticipant(
                communication_identifier=CommunicationUserIdentifier(user),
                role=role,
            )
            for user, role in (
                (host_id, ParticipantRole.PRESENTER),
                (viewer_id, ParticipantRole.CONSUMER),
            )
        ]
    )
    host, viewer = await room_page(browser, node), await room_page(browser, node)
    hosting = await host.evaluate(JOIN_ROOM, {"roomId": room.id, "token": host_token})
    viewing = await viewer.evaluate(
        JOIN_ROOM, {"roomId": room.id, "token": viewer_token}
    )

    # The Consumer decodes the Presenter's camera and hears the microphone.
    video, audio = f"{host_id} main video", f"{host_id} main audio"
    figures: dict[str, dict[str, int]] = {}
    for _ in range(300):
        figures = await viewer.evaluate(ROOM_RECEIVED)
        decoded = figures.get(video, {}).get("frames", 0) and figures[video]["width"]
        if decoded and figures.get(audio, {}).get("samples", 0) > 0:
            break
        await asyncio.sleep(0.1)

    # The Presenter's data reaches the Consumer's subscription.
    for _ in range(100):
        await host.evaluate("globalThis.roomCall.sendData('welcome')")
        if await viewer.evaluate("globalThis.roomData.length") > 0:
            break
        await asyncio.sleep(0.2)
    data = await viewer.evaluate("globalThis.roomData[0]")

    sends = await viewer.evaluate(CONSUMER_SENDS)
    call_id = await viewer.evaluate("globalThis.roomCall.id")
    streams = (
        await rest(node, host_token, f"/switchboard/v1/calls/{call_id}?{V}")
    ).json()["streams"]
    seen_by_host = await host.evaluate(
        f"globalThis.roomCall.participants.get({viewer_id!r}).role"
    )
    await host.evaluate("globalThis.roomCall.end()")

    assert hosting["role"] == "Presenter" and hosting["publishing"]
    assert viewing == {
        "role": "Consumer",
        "capabilities": {"publish": False, "shareScreen": False},
        "muted": True,
        "video": False,
        "publishing": False,
        "localStream": False,
    }
    assert figures[video]["frames"] > 0 and figures[video]["height"] > 0, figures
    assert figures[audio]["samples"] > 0
    assert data == {"from": host_id, "payload": "welcome"}
    refused = "a participant in the Consumer role may not"
    assert sends == {
        "errors": {
            "unmute": f"unmute: {refused} publish",
            "startVideo": f"startVideo: {refused} publish",
            "sendData": f"sendData: {refused} publish",
            "startScreenShare": f"startScreenShare: {refused} share a screen",
            "server": [403, f"call.update: {refused} publish"],
        },
        "state": "connected",
        "publishing": False,
    }
    assert [(s["participant"], s["kind"]) for s in streams] == [(host_id, "main")]
    assert seen_by_host == "Consumer"
