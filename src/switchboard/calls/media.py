"""Media for calls: publications and subscriptions relayed to the media engine.

Each `media.*` request of a connection opens or drives one peer connection
(a handle) between that client and the call's SFU room. Handles belong to the
connection that opened them and hang up when it closes; the room is opened on
the first publication or subscription and closed when the call ends.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from switchboard.calls import store
from switchboard.calls.core import (
    CallCore,
    CallEvent,
    CoreParts,
    Locked,
    Outcome,
    placement_of,
)
from switchboard.calls.model import (
    Call,
    CallState,
    ParticipantState,
    StreamInfo,
    conflict,
    role_may,
)
from switchboard.calls.wire import stream_json
from switchboard.core.errors import AcsError, ErrorCode, forbidden, not_found
from switchboard.media.engine import (
    FeedKind,
    Handle,
    MediaEngine,
    MediaError,
    MediaEvent,
    Placement,
)
from switchboard.realtime.hub import Caller

log = logging.getLogger(__name__)

MEDIA_UNAVAILABLE = "MediaUnavailable"


@dataclass(frozen=True, slots=True)
class Owned:
    """A handle opened by one connection of this node."""

    handle: Handle
    connection_id: str
    call_id: str
    user: str
    feed_id: int | None
    """The feed a publication created; None for a subscription."""
    kind: FeedKind | None


def unavailable(message: str = "no media server is up") -> AcsError:
    """A 503: the call has no media server to use."""
    return AcsError(503, MEDIA_UNAVAILABLE, message)


def media_failed(exc: MediaError) -> AcsError:
    """The engine's refusal as the error a client gets."""
    if exc.code == MEDIA_UNAVAILABLE:
        return unavailable(exc.message)
    return AcsError(400, ErrorCode.BAD_REQUEST, f"media: {exc.message}")


class MediaOps(CallCore):
    """Handles, the media room, and who is attached to which call on this node."""

    def __init__(self, core: CoreParts) -> None:
        super().__init__(core)
        self._handles: dict[str, Owned] = {}
        self._attached: dict[str, dict[str, int]] = {}
        self._placing: dict[str, asyncio.Lock] = {}
        self._live: set[str] = set()
        """Publications whose media flows: their streams are recorded."""

    def start_listening(self) -> None:
        """Follow the engine's handle events and lost servers."""
        if self.media is None:
            return
        self.media.on_event(self._on_media_event)
        self.media.on_server_lost(self._on_server_lost)

    async def _on_server_lost(self, server: str) -> None:
        await self.media_server_lost(server)

    async def media_server_lost(self, server: str) -> None:
        """Implemented by the service."""
        raise NotImplementedError

    # Who is in which call on this node

    def attach(self, connection_id: str, call_id: str, user: str, session: int) -> None:
        """Remember that this connection holds `user`'s place in the call."""
        self._attached.setdefault(connection_id, {})[call_id] = session
        log.debug("call %s: %s held by %s", call_id, user, connection_id)

    async def drop_connection(self, connection_id: str) -> list[tuple[str, int]]:
        """Hang up a closed connection's handles; the calls it held, with sessions."""
        for handle_id, owned in list(self._handles.items()):
            if owned.connection_id == connection_id:
                await self._hang_up(handle_id)
        return list(self._attached.pop(connection_id, {}).items())

    # Requests

    async def publish(
        self, caller: Caller, call_id: str, kind: FeedKind, sdp: str
    ) -> dict[str, Any]:
        """Publish the caller's camera and microphone, or its screen."""
        placement = await self._room(caller, call_id, publish=kind)
        engine = self._engine()
        try:
            published = await engine.publish(placement, caller.user, kind, sdp)
        except MediaError as exc:
            raise media_failed(exc) from exc
        self._handles[published.handle.handle_id] = Owned(
            published.handle,
            caller.connection_id,
            call_id,
            caller.user,
            published.feed_id,
            kind,
        )
        log.info(
            "call %s: %s publishes %s as feed %d",
            call_id,
            caller.user,
            kind.value,
            published.feed_id,
        )
        return {
            "handleId": published.handle.handle_id,
            "feedId": published.feed_id,
            "sdp": published.answer_sdp,
        }

    async def subscribe(
        self, caller: Caller, call_id: str, feed_id: int
    ) -> dict[str, Any]:
        """Subscribe the caller to one feed of the call; returns the engine's offer."""
        placement = await self._room(caller, call_id, feed=feed_id)
        try:
            sub = await self._engine().subscribe(placement, caller.user, feed_id)
        except MediaError as exc:
            raise media_failed(exc) from exc
        self._handles[sub.handle.handle_id] = Owned(
            sub.handle, caller.connection_id, call_id, caller.user, None, None
        )
        return {
            "handleId": sub.handle.handle_id,
            "sdp": sub.offer_sdp,
            "streams": [
                {"mid": s.mid, "type": s.type, "feedId": s.feed_id} for s in sub.streams
            ],
        }

    async def answer(self, caller: Caller, handle_id: str, sdp: str) -> dict[str, Any]:
        """The client's answer to a subscription's offer."""
        owned = self._owned(caller, handle_id)
        try:
            await self._engine().answer(owned.handle, sdp)
        except MediaError as exc:
            raise media_failed(exc) from exc
        return {}

    async def trickle(
        self, caller: Caller, handle_id: str, candidate: dict[str, Any] | None
    ) -> dict[str, Any]:
        """One ICE candidate of the client (None: it has gathered them all)."""
        owned = self._owned(caller, handle_id)
        try:
            await self._engine().trickle(owned.handle, candidate)
        except MediaError as exc:
            raise media_failed(exc) from exc
        return {}

    async def hangup(self, caller: Caller, handle_id: str) -> dict[str, Any]:
        """Close one of the caller's peer connections."""
        self._owned(caller, handle_id)
        await self._hang_up(handle_id)
        return {}

    async def apply_mute(
        self, connection_id: str, call_id: str, participant: dict[str, Any]
    ) -> None:
        """Have the engine stop or resume forwarding this connection's main feed."""
        if self.media is None:
            return
        for owned in list(self._handles.values()):
            if (
                owned.connection_id == connection_id
                and owned.call_id == call_id
                and owned.kind is FeedKind.MAIN
            ):
                try:
                    await self.media.mute(
                        owned.handle,
                        audio=not participant["muted"],
                        video=bool(participant["video"]),
                    )
                except MediaError as exc:
                    log.warning("call %s: mute failed: %s", call_id, exc.message)

    # Internals

    def _engine(self) -> MediaEngine:
        if self.media is None:
            raise unavailable("this node has no media engine")
        return self.media

    def _owned(self, caller: Caller, handle_id: str) -> Owned:
        owned = self._handles.get(handle_id)
        if owned is None or owned.connection_id != caller.connection_id:
            raise not_found(
                f"there is no handle {handle_id} on this connection", target="handleId"
            )
        return owned

    async def _room(
        self,
        caller: Caller,
        call_id: str,
        *,
        publish: FeedKind | None = None,
        feed: int | None = None,
    ) -> Placement:
        """Check the caller may do this in the call; the room, opened if needed."""
        engine = self._engine()
        async with self._db.engine.connect() as conn:
            call = await store.get_call(conn, call_id)
            if call is None:
                raise not_found(f"there is no call {call_id}", target="callId")
            people = {p.user: p for p in await store.participants(conn, call)}
            streams = await store.streams(conn, call_id)
        if call.state is CallState.ENDED:
            raise conflict(f"the call {call_id} has ended")
        me = people.get(caller.user)
        if me is None or me.state is not ParticipantState.CONNECTED:
            raise conflict(f"you are not connected to the call {call_id}")
        if publish is FeedKind.MAIN and not role_may(me.role, "publish"):
            raise forbidden(f"a participant in the {me.role} role may not publish")
        if publish is FeedKind.SCREEN and not role_may(me.role, "share_screen"):
            raise forbidden(
                f"a participant in the {me.role} role may not share a screen"
            )
        if feed is not None and all(s.feed_id != feed for s in streams):
            raise not_found(f"the call {call_id} has no feed {feed}", target="feedId")
        placement = placement_of(call)
        if placement is not None:
            return placement
        return await self._open_room(engine, call)

    async def _open_room(self, engine: MediaEngine, call: Call) -> Placement:
        lock = self._placing.setdefault(call.id, asyncio.Lock())
        async with lock:
            async with self._db.engine.connect() as conn:
                fresh = await store.get_call(conn, call.id)
            if fresh is not None and placement_of(fresh) is not None:
                placed = placement_of(fresh)
                assert placed is not None
                return placed
            try:
                placement: Placement = await engine.open_room(call.id)
            except MediaError as exc:
                raise media_failed(exc) from exc
            async with self._db.engine.begin() as conn:
                won = await store.place(conn, call.id, placement.server, placement.room)
                fresh = await store.get_call(conn, call.id)
            if won:
                log.info(
                    "call %s: media room %d on %s",
                    call.id,
                    placement.room,
                    placement.server,
                )
                return placement
            # Another node placed the call first: use its room, drop ours.
            await engine.close_room(placement)
            assert fresh is not None
            placed = placement_of(fresh)
            if placed is None:
                raise conflict(f"the call {call.id} has ended")
            return placed

    async def _hang_up(self, handle_id: str) -> None:
        owned = self._handles.pop(handle_id, None)
        live = handle_id in self._live
        self._live.discard(handle_id)
        if owned is None:
            return
        if self.media is not None:
            try:
                await self.media.hang_up(owned.handle)
            except MediaError as exc:
                log.info("handle %s: hang-up failed: %s", handle_id, exc.message)
        if owned.feed_id is not None and live:
            await self._stream_gone(owned)

    async def _stream_gone(self, owned: Owned) -> None:
        feed_id = owned.feed_id

        async def forget(lk: Locked) -> None:
            gone = await store.remove_streams(lk.conn, lk.call.id, feed_id=feed_id)
            for stream in gone:
                data = {"callId": lk.call.id, **stream_json(stream)}
                lk.out.note(lk.active(), CallEvent.STREAM_REMOVED, data)

        try:
            await self._change(owned.call_id, forget)
        except AcsError as exc:
            log.info("call %s: stream not removed: %s", owned.call_id, exc)

    async def _stream_up(self, owned: Owned) -> None:
        """A publication's media flows: others may subscribe to it now."""
        assert owned.feed_id is not None and owned.kind is not None
        stream = StreamInfo(owned.feed_id, owned.user, owned.kind.value)

        async def record(lk: Locked) -> None:
            if lk.call.state is CallState.ENDED:
                raise conflict(f"the call {owned.call_id} has ended")
            await store.add_stream(lk.conn, owned.call_id, stream)
            data = {"callId": owned.call_id, **stream_json(stream)}
            lk.out.note(lk.active(), CallEvent.STREAM_ADDED, data)

        try:
            await self._change(owned.call_id, record)
        except AcsError as exc:
            log.info("call %s: stream not added: %s", owned.call_id, exc)
            await self._hang_up(owned.handle.handle_id)
            return
        self._live.add(owned.handle.handle_id)

    async def _on_media_event(self, event: MediaEvent) -> None:
        owned = self._handles.get(event.handle.handle_id)
        if owned is None:
            return
        log.info(
            "call %s: handle %s of %s is %s",
            owned.call_id,
            event.handle.handle_id,
            owned.user,
            event.kind,
        )
        handle_id = event.handle.handle_id
        if event.kind == "up" and owned.feed_id is not None:
            if handle_id not in self._live:
                await self._stream_up(owned)
        elif event.kind == "down":
            self._handles.pop(handle_id, None)
            if owned.feed_id is not None and handle_id in self._live:
                self._live.discard(handle_id)
                await self._stream_gone(owned)

    async def _tidy(self, call: Call, out: Outcome) -> None:
        """Forget handles of people who left, and the room of an ended call."""
        for handle_id, owned in list(self._handles.items()):
            if owned.call_id == call.id and (out.ended or owned.user in out.left):
                self._handles.pop(handle_id, None)
                self._live.discard(handle_id)
                if self.media is not None and not out.ended:
                    try:
                        await self.media.hang_up(owned.handle)
                    except MediaError as exc:
                        log.info("handle %s: hang-up failed: %s", handle_id, exc)
        if out.ended:
            self._placing.pop(call.id, None)
            for held in self._attached.values():
                held.pop(call.id, None)
        if out.close_room is not None and self.media is not None:
            try:
                await self.media.close_room(out.close_room)
            except MediaError as exc:
                log.warning("call %s: closing its room failed: %s", call.id, exc)
