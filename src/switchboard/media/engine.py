"""The media engine interface: what calls need from an SFU.

Every call, 1:1 included, is one SFU room. Each participant's connection
publishes its camera and microphone (and a screen, as a second publisher) into
the room and subscribes to every other publisher, one peer connection per
publish or subscription. Switchboard relays the SDP and ICE candidates between
the client and the engine over the realtime WebSocket; the engine never meets
a client's token. `media.janus.JanusEngine` implements this with Janus's
VideoRoom plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class FeedKind(StrEnum):
    """What a publisher carries."""

    MAIN = "main"
    """Camera and microphone, and the call's data channel."""
    SCREEN = "screen"
    """A shared screen (video only)."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a call's room lives: a media server and the room on it."""

    server: str
    """The configured name of the media server."""
    room: int
    """The room's number on that server."""


@dataclass(frozen=True, slots=True)
class Handle:
    """One peer connection between a client and the engine."""

    placement: Placement
    handle_id: str
    """Unique within the engine; what the client names in trickle and answer."""


@dataclass(frozen=True, slots=True)
class Published:
    """A publisher that joined a room: its feed and the engine's SDP answer."""

    handle: Handle
    feed_id: int
    answer_sdp: str


@dataclass(frozen=True, slots=True)
class Stream:
    """One m-line of a subscription: which feed it carries."""

    mid: str
    type: str
    """`audio`, `video` or `data`."""
    feed_id: int


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription to one feed: the engine's SDP offer and its streams."""

    handle: Handle
    feed_id: int
    offer_sdp: str
    streams: tuple[Stream, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class MediaEvent:
    """Something the engine reports about a handle.

    `kind` is one of `up` (ICE and DTLS done, media flows), `down` (the peer
    connection closed or failed; `detail` says why), `slow` (the engine sees
    loss on the link; `detail` carries the direction).
    """

    handle: Handle
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class MediaError(Exception):
    """The engine refused or failed an operation; `code` names it for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


EventListener = Callable[[MediaEvent], Awaitable[None]]
ServerLostListener = Callable[[str], Awaitable[None]]


class MediaEngine(Protocol):
    """An SFU that hosts one room per call."""

    async def start(self) -> None:
        """Connect to (and, for the embedded server, start) the media servers."""
        ...

    async def stop(self) -> None:
        """Hang up every handle this node opened and disconnect."""
        ...

    def servers(self) -> list[str]:
        """The names of the servers that are up now."""
        ...

    async def open_room(self, call_id: str, server: str | None = None) -> Placement:
        """Create the room for a call, on `server` or on the least loaded one."""
        ...

    async def close_room(self, placement: Placement) -> None:
        """Destroy a call's room; its handles hang up. Idempotent."""
        ...

    async def publish(
        self,
        placement: Placement,
        participant: str,
        kind: FeedKind,
        offer_sdp: str,
    ) -> Published:
        """Join the room as a publisher with the client's offer; answer it."""
        ...

    async def subscribe(
        self, placement: Placement, participant: str, feed_id: int
    ) -> Subscription:
        """Subscribe `participant` to one feed; returns the engine's offer."""
        ...

    async def answer(self, handle: Handle, answer_sdp: str) -> None:
        """Give a subscription the client's answer; media starts flowing."""
        ...

    async def trickle(self, handle: Handle, candidate: dict[str, Any] | None) -> None:
        """Pass one client ICE candidate (None: gathering is complete)."""
        ...

    async def mute(self, handle: Handle, audio: bool, video: bool) -> None:
        """Stop or resume forwarding a publisher's audio and video."""
        ...

    async def hang_up(self, handle: Handle) -> None:
        """Close one peer connection. Idempotent."""
        ...

    def on_event(self, listener: EventListener) -> None:
        """Call `listener` for every MediaEvent of this node's handles."""
        ...

    def on_server_lost(self, listener: ServerLostListener) -> None:
        """Call `listener` with a server's name when it dies or is unreachable."""
        ...
