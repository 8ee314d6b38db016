"""A Python call participant: joins calls over the realtime protocol with aiortc.

    async with CallParticipant(endpoint, voip_token, tone_hz=440) as me:
        call = await me.join(group_id=group)
        message = await me.next_message()
        print(me.audio_stats())

The participant publishes one `main` feed (audio from a file or a generated
tone, optionally a generated video pattern, and the call's data channel),
unless its room role may not publish (a Consumer), and subscribes to every
other participant's feeds, one peer connection each, as docs/calls.md
describes. Received audio is measured and may be recorded to one
WAV file per feed. Needs the `calling` extra (aiortc).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import wave
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.stats import RTCInboundRtpStreamStats
from av import AudioFrame
from websockets.exceptions import ConnectionClosed

from switchboard.client.calling_media import (
    AudioLevel,
    AudioStats,
    PatternTrack,
    ToneTrack,
)
from switchboard.client.realtime import (
    Event,
    RealtimeClient,
    RequestError,
    Resync,
    TokenSource,
)
from switchboard.rooms.roles import capabilities, parse_role

log = logging.getLogger(__name__)

DATA_CHANNEL_LABEL = "switchboard"
"""The label of the data channel on a participant's main publication."""


class ParticipantState(StrEnum):
    """Where this participant is in a call."""

    IDLE = "idle"
    JOINING = "joining"
    IN_CALL = "inCall"
    LEFT = "left"


_MOVES = {
    ParticipantState.IDLE: {ParticipantState.JOINING},
    ParticipantState.JOINING: {ParticipantState.IN_CALL, ParticipantState.IDLE},
    ParticipantState.IN_CALL: {ParticipantState.LEFT},
    ParticipantState.LEFT: {ParticipantState.JOINING},
}


@dataclass(frozen=True, slots=True)
class DataMessage:
    """One data-channel message and the participant whose feed carried it."""

    sender: str
    feed_id: int
    data: str | bytes


@dataclass(frozen=True, slots=True)
class ReceiveStats:
    """RTP packets received and lost (by sequence gaps) over all subscriptions."""

    packets_received: int
    packets_lost: int
    audio_packets_received: int
    """The audio share of `packets_received` (Opus: 50 a second per feed)."""
    video_frames: int


@dataclass
class _Subscription:
    feed_id: int
    participant: str
    kind: str
    pc: RTCPeerConnection
    handle_id: str = ""
    level: AudioLevel = field(default_factory=AudioLevel)
    video_frames: int = 0
    recording: wave.Wave_write | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class CallParticipant:
    """One user in calls: publishes audio (and video), hears and sees the others."""

    def __init__(
        self,
        endpoint: str,
        token: TokenSource,
        *,
        tone_hz: float | None = 440.0,
        audio_file: str | Path | None = None,
        video: bool = False,
        record_dir: str | Path | None = None,
        ice_servers: list[RTCIceServer] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        realtime: RealtimeClient | None = None,
    ) -> None:
        """Prepare a participant; nothing is sent until `connect` or a call method.

        Args:
            endpoint: The node's https:// (or http://) endpoint.
            token: A user access token with the `voip` scope, or a function
                returning a current one.
            tone_hz: Publish a sine tone at this frequency (None: no tone).
            audio_file: Publish this file's audio instead (anything FFmpeg reads).
            video: Also publish a generated 320x240 moving pattern.
            record_dir: Record every received audio feed to
                `<record_dir>/feed-<feedId>.wav`.
            ice_servers: STUN/TURN servers to use instead of the call's
                `iceServers` (an empty list: host candidates only).
            ssl_context: Trust for a wss:// endpoint with a private CA.
            realtime: An existing RealtimeClient to use instead of a new one.
        """
        self.realtime = realtime or RealtimeClient(
            endpoint, token, ssl_context=ssl_context
        )
        self.state = ParticipantState.IDLE
        self.call: dict[str, Any] | None = None
        self.role: str | None = None
        """This participant's role in the call (a room role in a room call)."""
        self.feed_id: int | None = None
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.recordings: dict[int, Path] = {}
        self._tone_hz = tone_hz
        self._audio_file = audio_file
        self._video = video
        self._ice_override = ice_servers
        self._publisher: RTCPeerConnection | None = None
        self._publish_handle = ""
        self._channel: RTCDataChannel | None = None
        self._player: MediaPlayer | None = None
        self._sources: list[MediaStreamTrack] = []
        self._subscriptions: dict[int, _Subscription] = {}
        self._closed_subscriptions: list[_Subscription] = []
        self._early_streams: list[dict[str, Any]] = []
        self._messages: asyncio.Queue[DataMessage] = asyncio.Queue()
        self._incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def user_id(self) -> str:
        """This participant's raw user id, known once connected."""
        if self.realtime.ready is None:
            raise RuntimeError("calling: expected a connected participant, got none")
        return self.realtime.ready.user_id

    @property
    def call_id(self) -> str:
        """The id of the call this participant is in."""
        if self.call is None:
            raise RuntimeError("calling: expected a call, got none")
        return str(self.call["callId"])

    @property
    def may_publish(self) -> bool:
        """Whether this participant's role lets it send media and data."""
        role = parse_role(self.role or "")
        return role is None or capabilities(role).publish

    def _move(self, new: ParticipantState) -> None:
        old = self.state
        if new not in _MOVES[old]:
            raise RuntimeError(f"calling: cannot go from {old} to {new}")
        self.state = new
        call = self.call["callId"] if self.call else "-"
        log.info("participant %s call %s: %s -> %s", self._who(), call, old, new)

    def _who(self) -> str:
        ready = self.realtime.ready
        return ready.connection_id if ready is not None else "-"

    async def connect(self) -> None:
        """Open the realtime connection and start reading its events."""
        if self.realtime.ready is None:
            await self.realtime.connect()
        if self._pump is None:
            self._pump = asyncio.create_task(self._read_events())

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one request of docs/calls.md; RequestError when it is refused."""
        return await self.realtime.request(method, params)

    async def _tell_server(self, method: str, params: dict[str, Any]) -> None:
        # A failure changes nothing here: the server cleans up after a closed
        # connection by itself.
        try:
            await self.request(method, params)
        except (RequestError, RuntimeError, ConnectionClosed) as exc:
            log.debug("%s %s not done: %s", method, params, exc)

    # Calls

    async def start(
        self, targets: list[str], *, subject: str = "", video: bool = False
    ) -> dict[str, Any]:
        """Ring `targets` (raw user ids) and publish; callees are heard as they join."""
        result = await self._enter(
            "call.start", {"targets": targets, "subject": subject, "video": video}
        )
        return result

    async def join(
        self,
        *,
        call_id: str | None = None,
        group_id: str | None = None,
        room_id: str | None = None,
    ) -> dict[str, Any]:
        """Join a call by one of its ids, publish if the role may, and subscribe."""
        given = {
            "callId": call_id,
            "groupId": group_id,
            "roomId": room_id,
        }
        params = {key: value for key, value in given.items() if value is not None}
        if len(params) != 1:
            raise ValueError("calling: give exactly one of call_id, group_id, room_id")
        return await self._enter("call.join", params)

    async def next_incoming(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """The data of the next `incomingCall` event (waits up to `timeout_s`)."""
        return await asyncio.wait_for(self._incoming.get(), timeout_s)

    async def accept(self, call_id: str) -> dict[str, Any]:
        """Answer a ringing call, publish, and subscribe to the others."""
        return await self._enter("call.accept", {"callId": call_id})

    async def decline(self, call_id: str) -> None:
        """Decline a ringing call."""
        await self.request("call.decline", {"callId": call_id})

    async def _enter(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.connect()
        self._early_streams = []
        self._move(ParticipantState.JOINING)
        try:
            result = await self.request(method, params)
            self.call = dict(result["call"])
            self._ended.clear()
            everyone = self.call.get("participants", [])
            mine = [p for p in everyone if p.get("id") == self.user_id]
            self.role = str(mine[0].get("role", "")) if mine else None
            if self.may_publish:
                await self._publish()
            else:
                log.info("call %s: a %s only receives", self.call_id, self.role)
        except BaseException:
            await self._close_media()
            if self.call is not None:
                # In the call but not publishing: do not stay in it silently.
                await self._tell_server("call.leave", {"callId": self.call_id})
            self.call = None
            self._move(ParticipantState.IDLE)
            raise
        self._move(ParticipantState.IN_CALL)

        # Feeds in the call at join, those announced while publishing, and
        # later ones as callStreamAdded arrives.
        early, self._early_streams = self._early_streams, []
        early = [s for s in early if s.get("callId") == self.call["callId"]]
        for stream in [*self.call.get("streams", []), *early]:
            self._spawn(self._subscribe_to(stream))
        return self.call

    async def leave(self) -> None:
        """Leave the call and close every peer connection."""
        if self.state != ParticipantState.IN_CALL:
            return
        await self._tell_server("call.leave", {"callId": self.call_id})
        await self._close_media()
        # The call may have ended for everyone meanwhile (callEnded).
        if self.state == ParticipantState.IN_CALL:
            self._move(ParticipantState.LEFT)

    async def close(self) -> None:
        """Leave any call and close the realtime connection."""
        await self.leave()
        await self._close_media()
        for task in list(self._tasks):
            task.cancel()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
            self._pump = None
        await self.realtime.close()

    async def wait_ended(self, timeout_s: float = 30.0) -> None:
        """Wait until the call ends for everyone (a `callEnded` event)."""
        await asyncio.wait_for(self._ended.wait(), timeout_s)

    async def next_event(self, name: str, timeout_s: float = 30.0) -> Event:
        """The next call event named `name`, skipping others."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            event = await asyncio.wait_for(self._events.get(), max(left, 0.001))
            if event.name == name:
                return event

    # Media

    def _configuration(self) -> RTCConfiguration:
        if self._ice_override is not None:
            return RTCConfiguration(iceServers=list(self._ice_override))
        servers = []
        for server in (self.call or {}).get("iceServers") or []:
            servers.append(
                RTCIceServer(
                    urls=server["urls"],
                    username=server.get("username"),
                    credential=server.get("credential"),
                )
            )
        return RTCConfiguration(iceServers=servers)

    def _audio_source(self) -> MediaStreamTrack | None:
        if self._audio_file is not None:
            self._player = MediaPlayer(str(self._audio_file))
            return self._player.audio
        if self._tone_hz is not None:
            return ToneTrack(self._tone_hz)
        return None

    async def _publish(self) -> None:
        pc = RTCPeerConnection(self._configuration())
        self._publisher = pc
        audio = self._audio_source()
        if audio is not None:
            self._sources.append(audio)
            pc.addTransceiver(audio, direction="sendonly")
        if self._video:
            pattern = PatternTrack()
            self._sources.append(pattern)
            pc.addTransceiver(pattern, direction="sendonly")
        self._channel = pc.createDataChannel(DATA_CHANNEL_LABEL)

        # aiortc gathers every candidate before the offer is set: no trickle.
        await pc.setLocalDescription(await pc.createOffer())
        result = await self.request(
            "media.publish",
            {"callId": self.call_id, "kind": "main", "sdp": pc.localDescription.sdp},
        )
        self._publish_handle = str(result["handleId"])
        self.feed_id = int(result["feedId"])
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=result["sdp"], type="answer")
        )
        await self._end_of_candidates(self._publish_handle)
        log.info("call %s: published feed %s", self.call_id, self.feed_id)

    async def _end_of_candidates(self, handle_id: str) -> None:
        await self.request("media.trickle", {"handleId": handle_id, "candidate": None})

    async def _subscribe_to(self, stream: dict[str, Any]) -> None:
        feed_id = int(stream["feedId"])
        participant = str(stream["participant"])
        if participant == self.user_id or feed_id in self._subscriptions:
            return
        if self.state != ParticipantState.IN_CALL:
            return
        pc = RTCPeerConnection(self._configuration())
        sub = _Subscription(feed_id, participant, str(stream.get("kind", "main")), pc)
        self._subscriptions[feed_id] = sub

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._receive(sub, track)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def on_message(data: str | bytes) -> None:
                log.debug("call feed %d: data message of %d", feed_id, len(data))
                self._messages.put_nowait(DataMessage(participant, feed_id, data))

        try:
            result = await self.request(
                "media.subscribe", {"callId": self.call_id, "feedId": feed_id}
            )
            sub.handle_id = str(result["handleId"])
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=result["sdp"], type="offer")
            )
            # Janus relays data to a subscriber only after the subscriber's SCTP
            # association has carried something: a channel of our own opens it.
            pc.createDataChannel(DATA_CHANNEL_LABEL)
            await pc.setLocalDescription(await pc.createAnswer())
            await self.request(
                "media.answer",
                {"handleId": sub.handle_id, "sdp": pc.localDescription.sdp},
            )
            await self._end_of_candidates(sub.handle_id)
        except RequestError as exc:
            log.warning(
                "call %s: feed %d not subscribed: %s", self.call_id, feed_id, exc
            )
            await self._drop_subscription(feed_id)
            return
        log.info(
            "call %s: subscribed to feed %d of %s", self.call_id, feed_id, participant
        )

    def _receive(self, sub: _Subscription, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            sub.tasks.append(asyncio.create_task(self._hear(sub, track)))
        else:
            sub.tasks.append(asyncio.create_task(self._count_frames(sub, track)))

    async def _hear(self, sub: _Subscription, track: MediaStreamTrack) -> None:
        # One reader measures and records, so both see exactly the same frames.
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                sub.level.add(frame)
                if self.record_dir is not None:
                    self._record(sub, frame)

    def _record(self, sub: _Subscription, frame: AudioFrame) -> None:
        # Opus, the audio codec of every call, decodes to packed 16-bit samples.
        channels = len(frame.layout.channels)
        if sub.recording is None:
            assert self.record_dir is not None
            path = self.record_dir / f"feed-{sub.feed_id}.wav"
            # Open for the subscription's life; _drop_subscription closes it.
            sub.recording = wave.open(str(path), "wb")  # noqa: SIM115
            sub.recording.setnchannels(channels)
            sub.recording.setsampwidth(2)
            sub.recording.setframerate(frame.sample_rate)
            self.recordings[sub.feed_id] = path
        sub.recording.writeframes(
            bytes(frame.planes[0])[: frame.samples * channels * 2]
        )

    async def _count_frames(self, sub: _Subscription, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                sub.video_frames += 1

    async def _drop_subscription(self, feed_id: int, hang_up: bool = False) -> None:
        sub = self._subscriptions.pop(feed_id, None)
        if sub is None:
            return
        self._closed_subscriptions.append(sub)
        if hang_up and sub.handle_id:
            await self._tell_server("media.hangup", {"handleId": sub.handle_id})
        for task in sub.tasks:
            task.cancel()
        if sub.recording is not None:
            sub.recording.close()
        await sub.pc.close()

    async def _close_media(self) -> None:
        for feed_id in list(self._subscriptions):
            await self._drop_subscription(feed_id)
        for source in self._sources:
            source.stop()
        self._sources.clear()
        self._player = None
        if self._publisher is not None:
            await self._publisher.close()
            self._publisher = None
        self._channel = None

    # Data and statistics

    async def send(self, data: str | bytes) -> None:
        """Send one message on the call's data channel to every subscriber."""
        channel = self._channel
        if channel is None and not self.may_publish:
            raise RuntimeError(f"calling: a {self.role} may not send data")
        if channel is None:
            raise RuntimeError("calling: expected a published feed, got none")
        while channel.readyState == "connecting":
            await asyncio.sleep(0.02)
        if channel.readyState != "open":
            raise RuntimeError(f"calling: data channel is {channel.readyState}")
        channel.send(data)

    async def next_message(self, timeout_s: float = 30.0) -> DataMessage:
        """The next data-channel message from any other participant."""
        return await asyncio.wait_for(self._messages.get(), timeout_s)

    def subscribed(self) -> dict[int, str]:
        """The feeds this participant receives, and whose they are."""
        return {f: s.participant for f, s in self._subscriptions.items()}

    def audio_stats(self, participant: str | None = None) -> AudioStats:
        """Received audio of one participant, or of everyone, since connecting."""
        total = AudioLevel()
        for sub in self._all_subscriptions():
            if participant is not None and sub.participant != participant:
                continue
            total.samples += sub.level.samples
            total.squares += sub.level.squares
            total.peak = max(total.peak, sub.level.peak)
            total.loud += sub.level.loud
            total.channels = sub.level.channels
        return total.stats()

    def video_frames(self, participant: str | None = None) -> int:
        """Decoded video frames received from one participant, or everyone."""
        return sum(
            s.video_frames
            for s in self._all_subscriptions()
            if participant is None or s.participant == participant
        )

    def _all_subscriptions(self) -> list[_Subscription]:
        return [*self._subscriptions.values(), *self._closed_subscriptions]

    async def receive_stats(self) -> ReceiveStats:
        """RTP packets received and lost on every subscription, from getStats."""
        received = lost = audio = 0
        for sub in list(self._subscriptions.values()):
            report = await sub.pc.getStats()
            for stats in report.values():
                if isinstance(stats, RTCInboundRtpStreamStats):
                    received += stats.packetsReceived
                    lost += max(stats.packetsLost, 0)
                    if stats.kind == "audio":
                        audio += stats.packetsReceived
        return ReceiveStats(received, lost, audio, self.video_frames())

    # Events

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("participant %s: %r", self._who(), task.exception())

    async def _read_events(self) -> None:
        async for item in self.realtime.events():
            if isinstance(item, Resync):
                log.warning("call events lost up to %d: %s", item.seq, item.reason)
                continue
            self._on_event(item)

    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.name == "incomingCall":
            self._incoming.put_nowait(data)
        self._events.put_nowait(event)
        if event.name == "callStreamAdded" and self.state == ParticipantState.JOINING:
            # Subscribed to once joined (the call's id may not be known yet).
            self._early_streams.append(data)
            return
        if self.call is None or data.get("callId") != self.call.get("callId"):
            return
        log.debug("call %s: event %s", self.call_id, event.name)
        if event.name == "callStreamAdded":
            self._spawn(self._subscribe_to(data))
        elif event.name == "callStreamRemoved":
            feed_id = int(data["feedId"])
            self._early_streams = [
                s for s in self._early_streams if int(s["feedId"]) != feed_id
            ]
            self._spawn(self._drop_subscription(feed_id, hang_up=True))
        elif event.name == "callEnded":
            self._ended.set()
            self._spawn(self._ended_by_others())

    async def _ended_by_others(self) -> None:
        if self.state == ParticipantState.IN_CALL:
            await self._close_media()
        if self.state == ParticipantState.IN_CALL:
            self._move(ParticipantState.LEFT)
