"""`JanusEngine`: the media engine over one or more Janus servers' VideoRoom.

Each server gets one WebSocket connection and one Janus session from this
node, kept up by `ServerLink`. A call's room is created on the least loaded
server that is up; every publication and subscription is one VideoRoom handle
on that server's session. When a server's connection drops or its session is
gone, the handles on it are forgotten, `on_server_lost` listeners hear its
name, and the link reconnects with backoff until the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from switchboard.config import MediaSettings
from switchboard.media.engine import (
    EventListener,
    FeedKind,
    Handle,
    MediaError,
    MediaEvent,
    Placement,
    Published,
    ServerLostListener,
    Stream,
    Subscription,
)
from switchboard.media.janus_client import ConnectionLost, JanusError, PluginReply
from switchboard.media.links import HandleRecord, ServerLink, ServerSpec
from switchboard.media.process import JanusProcess
from switchboard.media.videoroom import (
    ROOM_EXISTS,
    media_error,
    media_sections,
    room_request,
)

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
"""The name of the Janus a node runs itself."""


def _carries(stream: dict[str, Any], feed_id: int) -> bool:
    # A data m-line lists its publishers in `source_ids`, the others name `feed_id`.
    sources = stream.get("source_ids") or [stream.get("feed_id")]
    return feed_id in sources


@dataclass(frozen=True, slots=True)
class _Notice:
    run: Callable[[], Awaitable[None]]


class JanusEngine:
    """The MediaEngine of Switchboard: VideoRoom rooms on Janus servers."""

    def __init__(
        self,
        settings: MediaSettings,
        servers: list[ServerSpec],
        process: JanusProcess | None = None,
    ) -> None:
        self.settings = settings
        self.process = process
        self._links = {
            spec.name: ServerLink(spec, settings, self._janus_event, self._lost)
            for spec in servers
        }
        self._handles: dict[str, HandleRecord] = {}
        self._event_listeners: list[EventListener] = []
        self._lost_listeners: list[ServerLostListener] = []
        self._notices: asyncio.Queue[_Notice] = asyncio.Queue()
        self._notifier: asyncio.Task[None] | None = None

    # Lifecycle

    async def start(self) -> None:
        """Start the embedded Janus, connect to every server, wait a little for them."""
        self._notifier = asyncio.create_task(self._notify())
        if self.process is not None:
            await self.process.start()
        for link in self._links.values():
            link.start()
        waits = [link.wait_up() for link in self._links.values()]
        if waits:
            done = asyncio.gather(*waits)
            try:
                await asyncio.wait_for(done, self.settings.request_timeout_s)
            except TimeoutError:
                down = [n for n, link in self._links.items() if not link.up]
                log.warning("media servers not reachable yet: %s", ", ".join(down))
        if not self._links:
            log.warning(
                "no media server: calls answer MediaUnavailable until one is "
                "configured (media.servers) or janus is installed"
            )

    async def stop(self) -> None:
        """Hang up this node's handles, disconnect, stop the embedded Janus."""
        for link in self._links.values():
            await link.stop()
        self._handles.clear()
        if self.process is not None:
            await self.process.stop()
        if self._notifier is not None:
            self._notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._notifier

    def servers(self) -> list[str]:
        """The names of the servers that are up now."""
        return [name for name, link in self._links.items() if link.up]

    def on_event(self, listener: EventListener) -> None:
        """Call `listener` for every MediaEvent of this node's handles."""
        self._event_listeners.append(listener)

    def on_server_lost(self, listener: ServerLostListener) -> None:
        """Call `listener` with a server's name when it dies or is unreachable."""
        self._lost_listeners.append(listener)

    # Rooms

    def _link(self, name: str) -> ServerLink:
        link = self._links.get(name)
        if link is None or not link.up:
            raise MediaError("MediaUnavailable", f"media server {name!r} is not up")
        return link

    def _least_loaded(self) -> ServerLink:
        up = [link for link in self._links.values() if link.up]
        if not up:
            raise MediaError("MediaUnavailable", "no media server is up")
        return min(up, key=lambda link: link.load)

    async def open_room(self, call_id: str, server: str | None = None) -> Placement:
        """Create the room for a call, on `server` or on the least loaded one."""
        link = self._link(server) if server is not None else self._least_loaded()
        for _ in range(5):
            room = secrets.randbelow(2**52) + 1
            body = room_request(room, call_id, self.settings.publishers)
            try:
                await link.control(body)
            except JanusError as exc:
                if exc.code == ROOM_EXISTS:
                    continue
                raise media_error(exc) from exc
            except (ConnectionLost, TimeoutError) as exc:
                raise media_error(exc) from exc
            link.rooms.add(room)
            log.info("call %s: room %d on %s", call_id, room, link.name)
            return Placement(server=link.name, room=room)
        raise MediaError("MediaUnavailable", "no free room number")

    async def close_room(self, placement: Placement) -> None:
        """Destroy a call's room; its handles hang up. Idempotent."""
        for handle_id, record in list(self._handles.items()):
            if record.handle.placement == placement:
                await self.hang_up(record.handle)
                self._handles.pop(handle_id, None)
        link = self._links.get(placement.server)
        if link is None or not link.up:
            return
        link.rooms.discard(placement.room)
        body = {"request": "destroy", "room": placement.room}
        with contextlib.suppress(JanusError, ConnectionLost, TimeoutError):
            await link.control(body)
        log.info("room %d on %s closed", placement.room, placement.server)

    # Handles

    async def _attach(
        self, placement: Placement, role: str, participant: str
    ) -> HandleRecord:
        link = self._link(placement.server)
        try:
            record = await link.attach(placement, role, participant)
        except (JanusError, ConnectionLost, TimeoutError) as exc:
            raise media_error(exc) from exc
        self._handles[record.handle.handle_id] = record
        return record

    async def _ask(
        self,
        record: HandleRecord,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
    ) -> PluginReply:
        link = self._link(record.handle.placement.server)
        try:
            return await link.message(record, body, jsep)
        except (JanusError, ConnectionLost, TimeoutError) as exc:
            raise media_error(exc) from exc

    async def publish(
        self,
        placement: Placement,
        participant: str,
        kind: FeedKind,
        offer_sdp: str,
    ) -> Published:
        """Join the room as a publisher with the client's offer; answer it."""
        record = await self._attach(placement, "publisher", participant)
        body = {
            "request": "joinandconfigure",
            "ptype": "publisher",
            "room": placement.room,
            "display": f"{participant} {kind}",
        }
        try:
            reply = await self._ask(record, body, {"type": "offer", "sdp": offer_sdp})
            if reply.jsep is None or "id" not in reply.data:
                raise MediaError("BadRequest", "the offer was not answered")
        except MediaError:
            await self.hang_up(record.handle)
            raise
        record.feed_id = int(reply.data["id"])
        record.mids = media_sections(offer_sdp)
        log.info(
            "room %d: %s publishes %s as feed %d (handle %s)",
            placement.room,
            participant,
            kind,
            record.feed_id,
            record.handle.handle_id,
        )
        return Published(record.handle, record.feed_id, str(reply.jsep["sdp"]))

    async def subscribe(
        self, placement: Placement, participant: str, feed_id: int
    ) -> Subscription:
        """Subscribe `participant` to one feed; returns the engine's offer."""
        record = await self._attach(placement, "subscriber", participant)
        body = {
            "request": "join",
            "ptype": "subscriber",
            "room": placement.room,
            # No renegotiation when the feed goes: the subscription just ends.
            "autoupdate": False,
            "streams": [{"feed": feed_id}],
        }
        try:
            reply = await self._ask(record, body)
            if reply.jsep is None:
                raise MediaError("NotFound", f"feed {feed_id} has nothing to send")
        except MediaError:
            await self.hang_up(record.handle)
            raise
        record.feed_id = feed_id
        streams = tuple(
            Stream(mid=str(s["mid"]), type=str(s["type"]), feed_id=feed_id)
            for s in reply.data.get("streams", [])
            if "mid" in s and _carries(s, feed_id)
        )
        log.info(
            "room %d: %s subscribes to feed %d (handle %s)",
            placement.room,
            participant,
            feed_id,
            record.handle.handle_id,
        )
        return Subscription(record.handle, feed_id, str(reply.jsep["sdp"]), streams)

    def _record(self, handle: Handle) -> HandleRecord:
        record = self._handles.get(handle.handle_id)
        if record is None:
            raise MediaError("NotFound", f"no media handle {handle.handle_id}")
        return record

    async def answer(self, handle: Handle, answer_sdp: str) -> None:
        """Give a subscription the client's answer; media starts flowing."""
        record = self._record(handle)
        if record.role != "subscriber":
            raise MediaError("BadRequest", "only a subscription takes an answer")
        await self._ask(
            record, {"request": "start"}, {"type": "answer", "sdp": answer_sdp}
        )

    async def trickle(self, handle: Handle, candidate: dict[str, Any] | None) -> None:
        """Pass one client ICE candidate (None: gathering is complete)."""
        record = self._record(handle)
        link = self._link(handle.placement.server)
        try:
            await link.trickle(record, candidate)
        except (JanusError, ConnectionLost, TimeoutError) as exc:
            raise media_error(exc) from exc

    async def mute(self, handle: Handle, audio: bool, video: bool) -> None:
        """Stop or resume forwarding a publisher's audio and video."""
        record = self._record(handle)
        if record.role != "publisher":
            raise MediaError("BadRequest", "only a publication can be muted")
        # VideoRoom `configure`: `send` per mid says whether that stream of the
        # publisher is relayed to its subscribers.
        streams = [
            {"mid": mid, "send": audio if kind == "audio" else video}
            for kind, mid in record.mids
            if kind in ("audio", "video")
        ]
        await self._ask(record, {"request": "configure", "streams": streams})
        log.info(
            "feed %d: audio %s, video %s",
            record.feed_id,
            "on" if audio else "off",
            "on" if video else "off",
        )

    async def hang_up(self, handle: Handle) -> None:
        """Close one peer connection. Idempotent."""
        record = self._handles.pop(handle.handle_id, None)
        if record is None:
            return
        link = self._links.get(handle.placement.server)
        if link is not None:
            await link.detach(record)

    # Events

    def _janus_event(self, record: HandleRecord, event: MediaEvent) -> None:
        if event.kind == "gone":
            self._handles.pop(record.handle.handle_id, None)
            event = MediaEvent(record.handle, "down", event.detail)
        elif record.handle.handle_id not in self._handles:
            return
        self._queue(lambda: self._deliver(event))

    async def _deliver(self, event: MediaEvent) -> None:
        for listener in self._event_listeners:
            await listener(event)

    def _lost(self, name: str) -> None:
        for handle_id, record in list(self._handles.items()):
            if record.handle.placement.server == name:
                del self._handles[handle_id]
        self._queue(lambda: self._announce_lost(name))

    async def _announce_lost(self, name: str) -> None:
        for listener in self._lost_listeners:
            await listener(name)

    def _queue(self, run: Callable[[], Awaitable[None]]) -> None:
        self._notices.put_nowait(_Notice(run))

    async def _notify(self) -> None:
        # One task delivers everything in order: `up` before `down`, and a lost
        # server after the events that came before it.
        while True:
            notice = await self._notices.get()
            try:
                await notice.run()
            except Exception:
                log.exception("a media listener failed")
