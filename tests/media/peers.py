"""aiortc peers that publish into and subscribe from the engine, counting media."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack


def peer_connection() -> RTCPeerConnection:
    """A peer connection with no STUN server: only host candidates, nothing leaves."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


@dataclass
class Publisher:
    """An aiortc publisher of a generated tone-less audio track, video and a channel."""

    pc: RTCPeerConnection = field(default_factory=peer_connection)
    channel: RTCDataChannel | None = None
    unreliable: RTCDataChannel | None = None

    async def offer(self, video: bool = True, data: bool = True) -> str:
        """Add the tracks and the data channel; the offer with all candidates."""
        self.pc.addTrack(AudioStreamTrack())
        if video:
            self.pc.addTrack(VideoStreamTrack())
        if data:
            self.channel = self.pc.createDataChannel("app")
            self.unreliable = self.pc.createDataChannel(
                "app-unreliable", ordered=False, maxRetransmits=0
            )
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        """Apply the engine's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    async def close(self) -> None:
        """Close the peer connection."""
        await self.pc.close()


@dataclass
class Subscriber:
    """An aiortc subscriber that counts decoded frames and collects data messages."""

    pc: RTCPeerConnection = field(default_factory=peer_connection)
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    sizes: list[tuple[int, int]] = field(default_factory=list)
    messages: list[tuple[str, Any]] = field(default_factory=list)
    channels: dict[str, RTCDataChannel] = field(default_factory=dict)
    message_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def answer(self, offer_sdp: str) -> str:
        """Apply the engine's offer; the answer with all candidates."""
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_channel)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        # Janus relays data to a subscriber only once the subscriber's SCTP
        # association has carried something: opening a channel of its own does.
        self.pc.createDataChannel("subscriber")
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                if track.kind == "video" and len(self.sizes) < 5:
                    self.sizes.append((frame.width, frame.height))

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self.channels[channel.label] = channel

        @channel.on("message")
        def _message(message: Any) -> None:
            self.messages.append((channel.label, message))
            self.message_arrived.set()

    async def packets(self, kind: str) -> int:
        """RTP packets received so far on the inbound stream of `kind`."""
        report = await self.pc.getStats()
        return sum(
            stat.packetsReceived
            for stat in report.values()
            if stat.type == "inbound-rtp" and stat.kind == kind
        )

    async def close(self) -> None:
        """Close the peer connection and stop reading."""
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()


async def until(condition: Any, what: str, timeout_s: float = 20.0) -> None:
    """Poll a predicate (sync or async) until it holds; fail naming `what`."""

    async def poll() -> None:
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
