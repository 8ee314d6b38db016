"""One client connection of the gateway: authentication, resume, sending, heartbeat.

The connection is an explicit state machine:

    AUTHENTICATING -> RESUMING -> LIVE -> CLOSING -> CLOSED
    (any state) -> CLOSING -> CLOSED

It talks to its socket through the small `Transport` interface, so the same
logic runs behind the ASGI WebSocket and in tests with an in-memory transport.

Requests (`request` frames) are queued and handled one after the other by a
worker of the connection, so that the read loop keeps reading (pongs, refreshes)
while a slow request is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.core.errors import AcsError
from switchboard.realtime import frames
from switchboard.realtime.eventlog import Entry, Replay
from switchboard.realtime.frames import CloseCode

if TYPE_CHECKING:
    from switchboard.auth.tokens import Principal
    from switchboard.realtime.hub import RealtimeHub

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 10.0
"""How long a close may wait for the peer to take the last frames."""


class Transport(Protocol):
    """The socket under a connection."""

    async def send(self, text: str) -> None:
        """Send one text frame; raises ConnectionError once the peer is gone."""
        ...

    async def receive(self) -> str | None:
        """The next text frame, or None when the peer has gone."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with a code and a short reason."""
        ...


class State(enum.Enum):
    """Where a connection is in its life."""

    AUTHENTICATING = "authenticating"
    RESUMING = "resuming"
    LIVE = "live"
    CLOSING = "closing"
    CLOSED = "closed"


_MOVES = {
    State.AUTHENTICATING: {State.RESUMING, State.CLOSING},
    State.RESUMING: {State.LIVE, State.CLOSING},
    State.LIVE: {State.CLOSING},
    State.CLOSING: {State.CLOSED},
    State.CLOSED: set(),
}


class ProtocolViolation(Exception):
    """The client broke the protocol; the connection closes with `code`."""

    def __init__(self, code: CloseCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Connection:
    """One authenticated WebSocket of one user."""

    def __init__(self, transport: Transport, hub: RealtimeHub, peer: str) -> None:
        self.id = "rt-" + uuid.uuid4().hex[:12]
        self.peer = peer
        self.state = State.AUTHENTICATING
        self.user = ""
        self.principal: Principal | None = None
        # Kept only to check it again on revocation; never logged.
        self.token = ""
        self._transport = transport
        self._hub = hub
        self._settings = hub.settings
        self._clock = hub.clock
        self._cursor = 0
        self._recipient: dict[str, Any] = {}
        self._held: list[Entry] = []
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._last_heard = self._clock()
        self._close_code: CloseCode | None = None
        self._close_message = ""
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._requests: deque[frames.Request] = deque()
        self._request_ready = asyncio.Event()
        self.frames_in = 0
        self.frames_out = 0

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.user or '-'} {self.state.value}>"

    @property
    def close_code(self) -> CloseCode | None:
        """Why the connection closed, once it has."""
        return self._close_code

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes of the connection's current token (empty before auth)."""
        if self.principal is None:
            return frozenset()
        return frozenset(self.principal.scopes)

    def _move(self, new: State) -> None:
        if new not in _MOVES[self.state]:
            raise RuntimeError(
                f"connection {self.id}: expected a move out of {self.state.value}, "
                f"got {self.state.value} -> {new.value}"
            )
        log.debug("%s %s: %s -> %s", self.id, self.user, self.state.value, new.value)
        self.state = new

    # The connection's life

    async def run(self) -> None:
        """Serve the connection until either side closes it."""
        self._hub.metrics.opened.inc()
        log.info("%s opened from %s", self.id, self.peer)
        serving = asyncio.create_task(self._serve_guarded())
        closing = asyncio.create_task(self._closed.wait())
        try:
            # A close asked for elsewhere (slow consumer, revocation, expiry) ends
            # the read that `_serve` is blocked in.
            await asyncio.wait({serving, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (serving, closing):
                task.cancel()
            await asyncio.gather(serving, closing, return_exceptions=True)
            await self._finish()

    async def _serve_guarded(self) -> None:
        try:
            await self._serve()
        except ProtocolViolation as exc:
            log.warning("%s %s: %s", self.id, self.user or "-", exc)
            self.close(exc.code, str(exc))
        except ConnectionError:
            self._peer_gone()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s: failed", self.id, self.user or "-")
            self.close(CloseCode.INTERNAL_ERROR, "internal error")

    async def _serve(self) -> None:
        # Authentication: the first frame, within the time allowed.
        try:
            first = await asyncio.wait_for(
                self._receive(), self._settings.auth_timeout_s
            )
        except TimeoutError:
            raise ProtocolViolation(
                CloseCode.AUTH_TIMEOUT, "no auth frame arrived in time"
            ) from None
        if first is None:
            return
        if not isinstance(first, frames.Auth):
            raise ProtocolViolation(
                CloseCode.PROTOCOL_ERROR, "the first frame must be an auth frame"
            )
        if not await self._authenticate(first.token):
            return

        # Resume, then live delivery with a heartbeat.
        self._move(State.RESUMING)
        await self._hub.attach(self)
        await self._resume(first.resume_from, first.stream)
        if self.state is not State.RESUMING:
            return
        self._move(State.LIVE)
        self._tasks.append(asyncio.create_task(self._send_loop()))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop()))
        self._tasks.append(asyncio.create_task(self._request_loop()))
        for entry in sorted(self._held, key=lambda e: e.seq):
            self.offer(entry)
        self._held.clear()
        await self._read_loop()

    async def _authenticate(self, token: str) -> bool:
        try:
            principal = await self._hub.verify(token)
        except AcsError as exc:
            code = CloseCode.FORBIDDEN if exc.status == 403 else CloseCode.UNAUTHORIZED
            log.info("%s refused: %s", self.id, exc.message)
            self.close(code, exc.message)
            return False
        self.principal = principal
        self.user = principal.user.raw
        self._recipient = frames.recipient(self.user)
        self.token = token
        log.info("%s authenticated as %s", self.id, self.user)
        return True

    async def _resume(self, resume_from: int | None, stream: str | None) -> None:
        assert self.principal is not None
        hub = self._hub
        resumed = False
        replay = None
        if resume_from is None:
            latest = await hub.log.latest(self.user)
        else:
            replay = await hub.log.since(self.user, resume_from)
            # Numbers from another stream (a restarted single node) mean nothing here.
            if stream is not None and stream != hub.log.stream:
                replay = Replay(replay.latest, [], gap=True)
            latest = replay.latest
            resumed = not replay.gap
        entries = replay.entries if replay is not None and resumed else []
        # Events this token's scopes do not cover are passed over, not replayed.
        shown = sum(1 for e in entries if hub.delivers(self, e.event))
        start = resume_from if resumed and resume_from is not None else latest
        ready = frames.ready_frame(
            self.id,
            self.user,
            hub.log.stream,
            start,
            self._settings.heartbeat_interval_s,
            self.principal.expires_at,
            resumed,
            shown,
        )

        # Replayed events go straight to the socket: a long replay is not a slow
        # consumer. Live events meanwhile wait in `_held`.
        await self._send_now(ready)
        self._cursor = start
        if replay is not None and replay.gap:
            hub.metrics.resyncs.inc()
            reason = "the events after resumeFrom are no longer kept"
            log.info("%s %s: resync at %d (%s)", self.id, self.user, latest, reason)
            await self._send_now(frames.resync_frame(latest, reason))
            self._cursor = latest
        for entry in entries:
            if self._hub.delivers(self, entry.event):
                await self._send_now(frames.event_frame(entry, self._recipient))
            self._cursor = entry.seq
        log.info(
            "%s %s: ready at %d resumed=%s replayed=%d",
            self.id,
            self.user,
            start,
            resumed,
            shown,
        )

    async def _read_loop(self) -> None:
        while self.state is State.LIVE:
            frame = await self._receive()
            if frame is None:
                return
            if isinstance(frame, frames.Pong):
                continue
            if isinstance(frame, frames.Ping):
                self._push(frames.pong_frame(frame.nonce))
            elif isinstance(frame, frames.Refresh):
                await self._refresh(frame.token)
            elif isinstance(frame, frames.Request):
                self._queue_request(frame)
            else:
                raise ProtocolViolation(
                    CloseCode.PROTOCOL_ERROR, "auth was already sent on this connection"
                )

    def _queue_request(self, request: frames.Request) -> None:
        if len(self._requests) >= self._settings.send_buffer_frames:
            log.warning("%s %s: too many requests waiting", self.id, self.user)
            self._push(
                frames.failure_frame(
                    request.id,
                    "TooManyRequests",
                    "too many requests are waiting on this connection",
                    429,
                )
            )
            return
        self._requests.append(request)
        self._request_ready.set()

    async def _request_loop(self) -> None:
        while self.state is State.LIVE:
            if not self._requests:
                self._request_ready.clear()
                await self._request_ready.wait()
                continue
            request = self._requests.popleft()
            self._push(await self._hub.dispatch(self, request))

    async def _refresh(self, token: str) -> None:
        try:
            principal = await self._hub.verify(token)
        except AcsError as exc:
            code = CloseCode.FORBIDDEN if exc.status == 403 else CloseCode.UNAUTHORIZED
            self.close(code, exc.message)
            return
        if principal.user.raw != self.user:
            raise ProtocolViolation(
                CloseCode.UNAUTHORIZED, "the refreshed token is for another user"
            )
        self.principal = principal
        self.token = token
        log.info("%s %s: token refreshed", self.id, self.user)
        self._push(frames.refreshed_frame(principal.expires_at))

    async def _receive(self) -> frames.ClientFrame | None:
        text = await self._transport.receive()
        if text is None:
            return None
        self.frames_in += 1
        self._hub.metrics.frames_in.inc()
        self._last_heard = self._clock()
        if len(text.encode()) > self._settings.max_frame_bytes:
            raise ProtocolViolation(
                CloseCode.FRAME_TOO_BIG,
                f"frames may be at most {self._settings.max_frame_bytes} bytes",
            )
        try:
            frame = frames.parse_client_frame(text)
        except frames.FrameError as exc:
            raise ProtocolViolation(CloseCode.PROTOCOL_ERROR, str(exc)) from exc
        log.debug("%s %s <- %s", self.id, self.user, type(frame).__name__.lower())
        return frame

    # Outgoing frames

    def offer(self, entry: Entry) -> None:
        """Queue an event of the user's stream unless this connection had it."""
        if self.state is State.RESUMING:
            self._held.append(entry)
            if len(self._held) > self._settings.send_buffer_frames:
                self._slow()
            return
        if self.state is not State.LIVE or entry.seq <= self._cursor:
            return
        if entry.seq > self._cursor + 1:
            # The feed hands on numbers in order; a hole here is stated, not hidden.
            log.warning(
                "%s %s: hole before %d at %d",
                self.id,
                self.user,
                entry.seq,
                self._cursor,
            )
            self._push(frames.resync_frame(entry.seq - 1, "events were lost"))
        self._cursor = entry.seq
        if not self._hub.delivers(self, entry.event):
            # Not for this token's scopes: the number is used up, nothing is lost.
            return
        self._push(frames.event_frame(entry, self._recipient))

    def resync(self, seq: int, reason: str) -> None:
        """Tell the client that events up to `seq` cannot be delivered."""
        if self.state is State.RESUMING:
            self._held = [e for e in self._held if e.seq > seq]
            self._cursor = max(self._cursor, seq)
            return
        if self.state is not State.LIVE or seq <= self._cursor:
            return
        self._hub.metrics.resyncs.inc()
        self._cursor = seq
        self._push(frames.resync_frame(seq, reason))

    def _push(self, frame: dict[str, Any]) -> None:
        if self.state is not State.LIVE:
            return
        if len(self._queue) >= self._settings.send_buffer_frames:
            self._slow()
            return
        self._queue.append(frames.encode(frame))
        self._wake.set()

    def _slow(self) -> None:
        self._hub.metrics.slow_consumers.inc()
        log.warning(
            "%s %s: slow consumer, %d frames waiting",
            self.id,
            self.user,
            max(len(self._queue), len(self._held)),
        )
        self.close(CloseCode.SLOW_CONSUMER, "the client does not read fast enough")

    async def _send_now(self, frame: dict[str, Any]) -> None:
        text = frames.encode(frame)
        await self._transport.send(text)
        self.frames_out += 1
        self._hub.metrics.frames_out.inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s", self.id, self.user, frame["type"])

    async def _send_loop(self) -> None:
        while self.state is State.LIVE:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            text = self._queue.popleft()
            try:
                await self._transport.send(text)
            except ConnectionError:
                self._peer_gone()
                return
            self.frames_out += 1
            self._hub.metrics.frames_out.inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s -> %s", self.id, self.user, text[:40])

    # Heartbeat and expiry

    async def _heartbeat_loop(self) -> None:
        interval = self._settings.heartbeat_interval_s
        while self.state is State.LIVE:
            wait = interval
            if self.principal is not None:
                wait = min(wait, max(0.0, self.principal.expires_at - self._clock()))
            await asyncio.sleep(wait)
            due = self.check(self._clock())
            if due is not None:
                self.close(*due)
                return
            # A client heard from within the last half interval needs no ping.
            if self._clock() - self._last_heard >= interval / 2:
                self._push(frames.ping_frame(self._clock()))

    def check(self, now: float) -> tuple[CloseCode, str] | None:
        """The close that is due at `now`, if any: token expiry or a silent peer."""
        if self.principal is not None and now >= self.principal.expires_at:
            return CloseCode.TOKEN_EXPIRED, "the access token has expired"
        silent = now - self._last_heard
        if silent >= 2 * self._settings.heartbeat_interval_s:
            message = f"no frame from the client for {silent:.0f}s"
            return CloseCode.HEARTBEAT_TIMEOUT, message
        return None

    # Closing

    def close(self, code: CloseCode, message: str) -> None:
        """Close the connection with `code`; queued events are dropped."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        self._move(State.CLOSING)
        self._close_code = code
        self._close_message = message
        self._queue.clear()
        self._held.clear()
        self._wake.set()
        self._closed.set()

    def _peer_gone(self) -> None:
        if self.state in (State.CLOSING, State.CLOSED):
            return
        self._move(State.CLOSING)
        self._close_code = None
        self._wake.set()
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until the connection has been asked to close."""
        await self._closed.wait()

    async def _finish(self) -> None:
        if self.state not in (State.CLOSING, State.CLOSED):
            self._peer_gone()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._hub.detach(self)
        code = self._close_code
        if code is not None:
            self._hub.metrics.closes.labels(str(int(code))).inc()
            # A peer that never reads again cannot take the close frame; the ASGI
            # server offers no abort, so its buffers stay until TCP gives up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send_close(code), CLOSE_TIMEOUT_S)
        self._move(State.CLOSED)
        log.info(
            "%s %s closed code=%s reason=%s in=%d out=%d",
            self.id,
            self.user or "-",
            int(code) if code is not None else "peer",
            self._close_message or "-",
            self.frames_in,
            self.frames_out,
        )

    async def _send_close(self, code: CloseCode) -> None:
        if code not in (CloseCode.NORMAL, CloseCode.GOING_AWAY):
            await self._transport.send(
                frames.encode(frames.error_frame(code, self._close_message))
            )
        # RFC 6455 §5.5.1: a close reason is at most 123 bytes of UTF-8.
        reason = self._close_message.encode()[:120].decode(errors="ignore")
        await self._transport.close(int(code), reason)
