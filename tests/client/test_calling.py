"""The Python call participant in real calls: a node, its embedded Janus, Chromium."""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
import uuid
import wave
from array import array
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.communication.identity import CommunicationUserIdentifier
from azure.communication.rooms import ParticipantRole, RoomParticipant, RoomsClient
from playwright.async_api import Browser, Page, async_playwright

from switchboard.client import CallParticipant, RequestError
from tests.calls.support import V, rest
from tests.conftest import CA_FILE, NETNS_MEDIA_ENV, RunningServer, start_server
from tests.realtime.support import new_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "python-calling.md"

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed"),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A SQLite node whose embedded Janus gathers on the namespace address."""
    server = start_server(Path(tmp_path_factory.mktemp("calling")), env=NETNS_MEDIA_ENV)
    yield server
    server.stop()


async def participant(node: RunningServer, **options: Any) -> CallParticipant:
    """A new voip user's participant, connected, with host candidates only."""
    _, token = await new_user(node, ("voip",))
    joined = CallParticipant(node.endpoint, token, ice_servers=[], **options)
    await joined.connect()
    return joined


async def until(check: Any, timeout_s: float = 30.0) -> None:
    """Wait until `check()` holds, polling; fail with its name after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.1)


def wav_samples(path: Path) -> array[int]:
    """The 16-bit samples of a WAV file."""
    with wave.open(str(path)) as recording:
        assert recording.getsampwidth() == 2
        return array("h", recording.readframes(recording.getnframes()))


async def test_two_participants_hear_each_other_and_exchange_data(
    node: RunningServer, tmp_path: Path
) -> None:
    group = str(uuid.uuid4())
    ada = await participant(node, tone_hz=440.0, record_dir=tmp_path)
    bob = await participant(node, tone_hz=660.0, video=True)
    try:
        await ada.join(group_id=group)
        await bob.join(group_id=group)
        await until(lambda: bob.user_id in ada.subscribed().values())
        await until(lambda: ada.user_id in bob.subscribed().values())

        # Both ways: each hears the other's tone; Ada also sees Bob's pattern.
        await until(lambda: ada.audio_stats(bob.user_id).loud_samples > 48_000)
        await until(lambda: bob.audio_stats(ada.user_id).loud_samples > 48_000)
        await until(lambda: ada.video_frames(bob.user_id) > 10)

        await ada.send("hello from ada")
        await bob.send(b"\x00bytes from bob")
        to_bob = await bob.next_message()
        to_ada = await ada.next_message()
        stats = await ada.receive_stats()
    finally:
        await bob.close()
        await ada.close()

    assert (to_bob.sender, to_bob.data) == (ada.user_id, "hello from ada")
    assert (to_ada.sender, to_ada.data) == (bob.user_id, b"\x00bytes from bob")
    assert to_ada.feed_id == bob.feed_id
    heard = ada.audio_stats(bob.user_id)
    assert heard.rms > 0.05
    assert stats.packets_received > 0
    assert stats.video_frames > 10

    # Ada's recording of Bob holds his tone, not silence.
    assert bob.feed_id is not None
    recorded = wav_samples(tmp_path / f"feed-{bob.feed_id}.wav")
    assert len(recorded) == heard.samples * 2
    assert max(recorded) > 3000


def write_tone(path: Path, frequency_hz: int, seconds: int) -> None:
    """A mono 48 kHz 16-bit WAV file of a sine at half of full scale."""
    samples = array(
        "h",
        (
            int(16383 * math.sin(2 * math.pi * frequency_hz * n / 48_000))
            for n in range(48_000 * seconds)
        ),
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(samples.tobytes())


def loud_frequency(path: Path) -> float:
    """The frequency of a recorded tone: swings per second in its loud 20 ms blocks."""
    with wave.open(str(path)) as recording:
        channels = recording.getnchannels()
        samples = array("h", recording.readframes(recording.getnframes()))
    first = samples[::channels]
    swings = blocks = 0
    for start in range(0, len(first) - 960, 960):
        block = first[start : start + 960]
        if math.sqrt(sum(v * v for v in block) / 960) < 1000:
            continue
        blocks += 1
        low = False
        for value in block:
            if value < -1000:
                low = True
            elif value > 1000 and low:
                swings += 1
                low = False
    return swings / (blocks * 0.02)


async def test_a_file_s_audio_is_published_and_recorded(
    node: RunningServer, tmp_path: Path
) -> None:
    # The file plays once, from when Ada's media is up; Bob's subscription to
    # her comes up a moment later, so the file runs well past the two seconds
    # awaited below.
    write_tone(tmp_path / "tone.wav", 1000, 8)
    records = tmp_path / "records"
    records.mkdir()
    group = str(uuid.uuid4())
    bob = await participant(node, tone_hz=None, record_dir=records)
    ada = await participant(node, audio_file=tmp_path / "tone.wav")
    try:
        await bob.join(group_id=group)
        await ada.join(group_id=group)
        await until(lambda: bob.audio_stats(ada.user_id).loud_samples > 96_000)
    finally:
        await ada.close()
        await bob.close()

    assert ada.feed_id is not None
    assert bob.recordings == {ada.feed_id: records / f"feed-{ada.feed_id}.wav"}
    assert abs(loud_frequency(bob.recordings[ada.feed_id]) - 1000) < 60


async def test_a_direct_call_rings_and_the_callee_accepts(node: RunningServer) -> None:
    ada = await participant(node, tone_hz=440.0)
    bob = await participant(node, tone_hz=660.0)
    try:
        call = await ada.start([bob.user_id], subject="Python")
        incoming = await bob.next_incoming()
        accepted = await bob.accept(incoming["callId"])
        await until(lambda: ada.audio_stats(bob.user_id).loud_samples > 48_000)
        await until(lambda: bob.audio_stats(ada.user_id).loud_samples > 48_000)
        await bob.leave()
        left = await ada.next_event("callParticipantLeft")
    finally:
        await bob.close()
        await ada.close()

    assert incoming["callId"] == call["callId"] == accepted["callId"]
    assert incoming["caller"]["id"] == ada.user_id
    assert incoming["subject"] == "Python"
    assert left.data["participant"]["id"] == bob.user_id
    assert bob.state == "left"


def test_the_guide_s_example_runs(node: RunningServer, tmp_path: Path) -> None:
    example = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)[0]
    (tmp_path / "two_participants.py").write_text(example)
    env = {
        **os.environ,
        "SWITCHBOARD_CONNECTION_STRING": node.connection_string,
        "SWITCHBOARD_CA": str(CA_FILE),
    }
    result = subprocess.run(
        [sys.executable, "two_participants.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith(" says 'hello from Ada'")
    assert lines[1].startswith("Bob hears Ada: AudioStats(samples=")
    assert list(tmp_path.glob("feed-*.wav"))


async def test_a_join_needs_one_id_and_an_existing_call(node: RunningServer) -> None:
    ada = await participant(node)
    try:
        with pytest.raises(ValueError, match="exactly one of call_id, group_id"):
            await ada.join(group_id=str(uuid.uuid4()), call_id="x")
        with pytest.raises(RequestError) as refused:
            await ada.join(call_id=str(uuid.uuid4()))
        assert refused.value.code == "NotFound"
        assert ada.state == "idle"
    finally:
        await ada.close()


async def test_a_consumer_hears_a_room_s_presenter_and_publishes_nothing(
    node: RunningServer,
) -> None:
    host_id, host_token = await new_user(node, ("voip",))
    viewer_id, viewer_token = await new_user(node, ("voip",))
    rooms = RoomsClient.from_connection_string(node.connection_string)
    room = rooms.create_room(
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
    host = CallParticipant(node.endpoint, host_token, ice_servers=[], tone_hz=440.0)
    # A tone and video of its own that a Consumer's role keeps from going out.
    viewer = CallParticipant(
        node.endpoint, viewer_token, ice_servers=[], tone_hz=660.0, video=True
    )
    try:
        await host.connect()
        await viewer.connect()
        await host.join(room_id=room.id)
        call = await viewer.join(room_id=room.id)
        await until(lambda: host_id in viewer.subscribed().values())
        await until(lambda: viewer.audio_stats(host_id).loud_samples > 48_000)

        # The Presenter's data reaches the Consumer's subscription.
        await host.send("welcome")
        message = await viewer.next_message()

        # Sending is refused, by the SDK and by the server, and the call goes on.
        with pytest.raises(RuntimeError) as not_sent:
            await viewer.send("hello")
        with pytest.raises(RequestError) as unmute:
            await viewer.request(
                "call.update", {"callId": call["callId"], "muted": False}
            )
        streams = (
            await rest(node, host_token, f"/switchboard/v1/calls/{call['callId']}?{V}")
        ).json()["streams"]
        heard_before = viewer.audio_stats(host_id).samples
        await until(lambda: viewer.audio_stats(host_id).samples > heard_before)
        state, host_feeds = viewer.state, host.subscribed()
    finally:
        await viewer.close()
        await host.close()

    assert call["kind"] == "room"
    assert (viewer.role, viewer.may_publish) == ("Consumer", False)
    assert (host.role, host.may_publish) == ("Presenter", True)
    assert viewer.feed_id is None
    assert host_feeds == {}
    assert [(s["participant"], s["kind"]) for s in streams] == [(host_id, "main")]
    assert viewer.audio_stats(host_id).rms > 0.05
    assert (message.sender, message.data) == (host_id, "welcome")
    assert str(not_sent.value) == "calling: a Consumer may not send data"
    assert (unmute.value.code, unmute.value.status) == ("Forbidden", 403)
    assert state == "inCall"


# A page of plain WebRTC over the realtime protocol (docs/calls.md): it joins a
# group call, publishes the fake microphone and measures what it receives.
PAGE_SCRIPT = """
async ({url, token, groupId}) => {
  const sb = window.sb = {inbound: [], levels: [], errors: []};
  const ws = new WebSocket(url);
  const pending = new Map();
  let count = 0, ready, call;
  const readyFrame = new Promise((resolve) => { ready = resolve; });
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = `b${++count}`;
    pending.set(id, {resolve, reject});
    ws.send(JSON.stringify({type: "request", id, method, params}));
  });
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
  const subscribed = new Set();
  const context = new AudioContext();
  const subscribe = async (stream) => {
    if (stream.participant === sb.userId || subscribed.has(stream.feedId)) return;
    subscribed.add(stream.feedId);
    const offer = await request("media.subscribe",
                                {callId: call.callId, feedId: stream.feedId});
    const pc = new RTCPeerConnection({iceServers: []});
    pc.ontrack = (e) => {
      if (e.track.kind !== "audio") return;
      const media = new MediaStream([e.track]);
      const audio = new Audio();
      audio.srcObject = media;
      audio.play().catch(() => {});
      const analyser = context.createAnalyser();
      context.createMediaStreamSource(media).connect(analyser);
      const buffer = new Float32Array(analyser.fftSize);
      const spectrum = new Float32Array(analyser.frequencyBinCount);
      setInterval(() => {
        analyser.getFloatTimeDomainData(buffer);
        let sum = 0;
        for (const v of buffer) sum += v * v;
        const level = Math.sqrt(sum / buffer.length);
        if (level > Math.max(0, ...sb.levels)) {
          // The loudest moment's strongest frequency.
          analyser.getFloatFrequencyData(spectrum);
          const bin = spectrum.indexOf(Math.max(...spectrum));
          sb.peakHz = bin * context.sampleRate / analyser.fftSize;
        }
        sb.levels.push(level);
      }, 50);
    };
    sb.inbound.push(pc);
    await pc.setRemoteDescription({type: "offer", sdp: offer.sdp});
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await request("media.answer", {handleId: offer.handleId,
                                   sdp: pc.localDescription.sdp});
    await request("media.trickle", {handleId: offer.handleId, candidate: null});
  };
  ws.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === "ready") ready(frame);
    else if (frame.type === "ping") ws.send('{"type":"pong"}');
    else if (frame.type === "response") {
      const waiter = pending.get(frame.id);
      pending.delete(frame.id);
      if (frame.error) waiter.reject(new Error(frame.error.code));
      else waiter.resolve(frame.result);
    } else if (frame.type === "event" && frame.event === "callStreamAdded"
               && call && frame.data.callId === call.callId) {
      subscribe(frame.data).catch((e) => sb.errors.push(String(e)));
    }
  };
  await new Promise((resolve) => ws.addEventListener("open", resolve));
  ws.send(JSON.stringify({type: "auth", token}));
  sb.userId = (await readyFrame).userId;
  call = (await request("call.join", {groupId})).call;

  const microphone = await navigator.mediaDevices.getUserMedia({audio: true});
  const pc = new RTCPeerConnection({iceServers: []});
  pc.addTransceiver(microphone.getAudioTracks()[0], {direction: "sendonly"});
  pc.createDataChannel("switchboard");
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const published = await request("media.publish", {
    callId: call.callId, kind: "main", sdp: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: "answer", sdp: published.sdp});
  await request("media.trickle", {handleId: published.handleId, candidate: null});
  sb.outbound = pc;
  for (const stream of call.streams) {
    subscribe(stream).catch((e) => sb.errors.push(String(e)));
  }
  return published.feedId;
}
"""

# What the page received: inbound audio from getStats and the analyser's peak.
HEARD_SCRIPT = """
async () => {
  let energy = 0, samples = 0, packets = 0;
  for (const pc of window.sb.inbound) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        energy += s.totalAudioEnergy || 0;
        samples += s.totalSamplesReceived || 0;
        packets += s.packetsReceived || 0;
      }
    });
  }
  return {energy, samples, packets, peak: Math.max(0, ...window.sb.levels),
          peakHz: window.sb.peakHz, errors: window.sb.errors};
}
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium with a fake microphone and camera."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        await chromium.close()


async def heard_in(page: Page) -> dict[str, Any]:
    """What the page's subscriptions received so far."""
    result: dict[str, Any] = await page.evaluate(HEARD_SCRIPT)
    return result


async def test_a_tone_reaches_chromium_and_its_microphone_reaches_python(
    node: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    group = str(uuid.uuid4())
    python = await participant(node, tone_hz=440.0, record_dir=tmp_path)
    _, browser_token = await new_user(node, ("voip",))
    page = await browser.new_page()
    try:
        await python.join(group_id=group)
        # Plain HTTP on 127.0.0.1 is a secure context, as getUserMedia needs.
        await page.goto(f"{node.http_endpoint}/")
        url = f"ws://127.0.0.1:{node.http_port}/switchboard/v1/realtime"
        browser_feed = await page.evaluate(
            PAGE_SCRIPT, {"url": url, "token": browser_token, "groupId": group}
        )

        # The browser hears the tone: a level well above silence.
        async with asyncio.timeout(30):
            while (heard := await heard_in(page))["peak"] < 0.05:
                assert not heard["errors"]
                await asyncio.sleep(0.2)

        # Python hears the fake microphone's beeps (it is silent in between).
        await until(lambda: python.audio_stats().peak > 3000)
        heard = await heard_in(page)
        subscribed = python.subscribed()
    finally:
        await page.close()
        await python.close()

    assert heard["packets"] > 0
    # The strongest frequency heard is the tone's (FFT bins are 23.4 Hz wide).
    assert abs(heard["peakHz"] - 440) < 30
    assert heard["samples"] > 0
    assert heard["energy"] > 0
    assert list(subscribed) == [browser_feed]
    recorded = wav_samples(tmp_path / f"feed-{browser_feed}.wav")
    # The recording holds exactly the frames measured (decoded Opus is stereo).
    assert max(max(recorded), -min(recorded)) == python.audio_stats().peak
    assert len(recorded) == python.audio_stats().samples * 2
