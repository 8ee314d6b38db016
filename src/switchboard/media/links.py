"""One node's link to one Janus server: connection, session, handles, reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.config import MediaSettings
from switchboard.media.engine import Handle, MediaEvent, Placement
from switchboard.media.janus_client import (
    ConnectionLost,
    JanusError,
    JanusMessage,
    JanusSession,
    PluginReply,
)

log = logging.getLogger(__name__)

PLUGIN = "janus.plugin.videoroom"

RECONNECT_MIN_S = 0.2
"""Wait before the first reconnection attempt; it doubles up to the maximum."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """A Janus server to place calls on: its name, API URL and API secret."""

    name: str
    url: str
    api_secret: str = field(default="", repr=False)


@dataclass(slots=True)
class HandleRecord:
    """What the engine knows about one of its VideoRoom handles."""

    handle: Handle
    janus_id: int
    role: str
    """`publisher` or `subscriber`."""
    participant: str
    feed_id: int = 0
    mids: tuple[tuple[str, str], ...] = ()
    """A publisher's m-lines as (type, mid), from its offer."""


class LinkState(enum.StrEnum):
    """Where this node's link to one server is."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


_TRANSITIONS = {
    LinkState.STOPPED: {LinkState.CONNECTING},
    LinkState.CONNECTING: {LinkState.UP, LinkState.STOPPED},
    LinkState.UP: {LinkState.DOWN, LinkState.STOPPED},
    LinkState.DOWN: {LinkState.CONNECTING, LinkState.STOPPED},
}

EventSink = Callable[[HandleRecord, MediaEvent], None]
LostSink = Callable[[str], None]


class ServerLink:
    """Keeps one session on one Janus and the handles this node opened there."""

    def __init__(
        self,
        spec: ServerSpec,
        settings: MediaSettings,
        on_event: EventSink,
        on_lost: LostSink,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = settings
        self.state = LinkState.STOPPED
        self.rooms: set[int] = set()
        self._on_event = on_event
        self._on_lost = on_lost
        self._handles: dict[int, HandleRecord] = {}
        self._session: JanusSession | None = None
        self._control = 0
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _transition(self, new: LinkState, why: str = "") -> None:
        if new not in _TRANSITIONS[self.state]:
            moves = ", ".join(sorted(_TRANSITIONS[self.state]))
            raise RuntimeError(
                f"media server {self.name}: expected {moves} after {self.state}, "
                f"got {new}"
            )
        suffix = f" ({why})" if why else ""
        log.info("media server %s: %s -> %s%s", self.name, self.state, new, suffix)
        self.state = new
        if new is LinkState.UP:
            self._up.set()
        else:
            self._up.clear()

    @property
    def up(self) -> bool:
        """Whether the server can take requests now."""
        return self.state is LinkState.UP

    @property
    def load(self) -> int:
        """How busy this node keeps the server: its handles and rooms here."""
        return len(self._handles) + len(self.rooms)

    async def wait_up(self) -> None:
        """Wait until the link is up."""
        await self._up.wait()

    def start(self) -> None:
        """Connect now and keep reconnecting until stopped."""
        self._transition(LinkState.CONNECTING)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Destroy the session (its handles hang up) and stop reconnecting."""
        if self.state is LinkState.STOPPED:
            return
        self._transition(LinkState.STOPPED)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
        self._handles.clear()
        self.rooms.clear()

    def _session_or_fail(self) -> JanusSession:
        session = self._session
        if session is None or not self.up:
            raise ConnectionLost(f"media server {self.name} is not up")
        return session

    async def control(self, body: dict[str, Any]) -> PluginReply:
        """A synchronous VideoRoom request (create, destroy) on the control handle."""
        return await self._session_or_fail().message(self._control, body)

    async def attach(
        self, placement: Placement, role: str, participant: str
    ) -> HandleRecord:
        """A new VideoRoom handle for one peer connection."""
        janus_id = await self._session_or_fail().attach(PLUGIN)
        handle = Handle(placement, f"{self.name}-{secrets.token_hex(8)}")
        record = HandleRecord(handle, janus_id, role, participant)
        self._handles[janus_id] = record
        return record

    async def message(
        self,
        record: HandleRecord,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
    ) -> PluginReply:
        """An asynchronous VideoRoom request on a handle; waits for its event."""
        session = self._session_or_fail()
        return await session.message(record.janus_id, body, jsep, asynchronous=True)

    async def trickle(
        self, record: HandleRecord, candidate: dict[str, Any] | None
    ) -> None:
        """Trickle a client candidate to the handle."""
        await self._session_or_fail().trickle(record.janus_id, candidate)

    async def detach(self, record: HandleRecord) -> None:
        """Forget a handle and detach it; its peer connection hangs up."""
        if self._handles.pop(record.janus_id, None) is None:
            return
        session = self._session
        if session is None or not self.up:
            return
        with contextlib.suppress(JanusError, ConnectionLost, TimeoutError):
            await session.detach(record.janus_id)

    # Connection

    async def _connect(self) -> JanusSession:
        session = JanusSession(
            self.name,
            self.spec.url,
            self._janus_event,
            self.spec.api_secret,
            self.settings.request_timeout_s,
            self.settings.keepalive_s,
        )
        try:
            await session.open()
            self._control = await session.attach(PLUGIN)
        except BaseException:
            await session.close()
            raise
        return session

    async def _run(self) -> None:
        wait = RECONNECT_MIN_S
        failures = 0
        while True:
            try:
                self._session = await self._connect()
            except (OSError, JanusError, ConnectionLost, TimeoutError) as exc:
                failures += 1
                # The first failures are expected while an embedded Janus starts.
                level = logging.WARNING if failures == 5 else logging.DEBUG
                log.log(level, "media server %s unreachable: %s", self.name, exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.settings.reconnect_max_s)
                continue
            wait, failures = RECONNECT_MIN_S, 0
            self._transition(LinkState.UP)
            reason = await self._session.wait_closed()

            self._transition(LinkState.DOWN, reason)
            self._handles.clear()
            self.rooms.clear()
            self._on_lost(self.name)
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None
            self._transition(LinkState.CONNECTING)

    # Events

    def _janus_event(self, message: JanusMessage) -> None:
        kind = message.get("janus")
        sender = message.get("sender")
        record = self._handles.get(sender) if isinstance(sender, int) else None
        if record is None:
            return
        handle = record.handle
        if kind == "webrtcup":
            self._on_event(record, MediaEvent(handle, "up"))
        elif kind == "hangup":
            reason = {"reason": str(message.get("reason", ""))}
            self._on_event(record, MediaEvent(handle, "down", reason))
        elif kind == "slowlink":
            detail: dict[str, Any] = {
                "uplink": bool(message.get("uplink")),
                "media": str(message.get("media", "")),
                "mid": str(message.get("mid", "")),
                "lost": int(message.get("lost", 0)),
            }
            self._on_event(record, MediaEvent(handle, "slow", detail))
        elif kind == "detached":
            self._handles.pop(record.janus_id, None)
            self._on_event(record, MediaEvent(handle, "gone", {"reason": "detached"}))
        else:
            log.debug("media server %s: %s on %s", self.name, kind, handle.handle_id)
