"""An async client of the realtime gateway that reconnects and resumes by itself.

    async with RealtimeClient(endpoint, token) as client:
        async for item in client.events():
            ...  # an Event, or a Resync when state must be refetched

The client reads only while the caller iterates (or awaits `request`), so a
caller that stops reading is what the server sees too; heartbeats are answered
as frames are read. The protocol is described in docs/realtime.md, requests and
their methods in docs/calls.md.

    result = await client.request("call.start", {"targets": [callee]})
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

log = logging.getLogger(__name__)

PATH = "/switchboard/v1/realtime"

TokenSource = str | Callable[[], Awaitable[str]]
"""A fixed token, or an async function that returns a current one."""

# Close codes after which reconnecting with the same token cannot help.
_FINAL = {4000, 4001, 4002, 4005, 1008, 1009}
# Close codes that a fresh token from a token function can fix.
_NEEDS_TOKEN = {4001, 4004}


@dataclass(frozen=True, slots=True)
class Event:
    """One numbered event of the user's stream."""

    seq: int
    name: str
    data: dict[str, Any]
    time: str


@dataclass(frozen=True, slots=True)
class Resync:
    """Events up to `seq` were lost to this client: refetch state over REST."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ready:
    """What the server said when a connection was accepted."""

    connection_id: str
    user_id: str
    stream: str
    seq: int
    resumed: bool
    replayed: int
    heartbeat_interval_s: float
    expires_on: str


class RequestError(Exception):
    """The server answered a request with an error; `code` names it."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status


class RealtimeClosed(Exception):
    """The server ended the connection for good (a bad or revoked token, a bug)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"realtime connection closed: {code} {reason}")
        self.code = code
        self.reason = reason


def realtime_url(endpoint: str) -> str:
    """The gateway's ws:// or wss:// URL for an http(s):// endpoint."""
    base = endpoint.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + PATH
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + PATH
    raise ValueError(f"the endpoint must start with http:// or https://: {endpoint}")


class RealtimeClient:
    """One user's realtime connection, reconnected and resumed as needed."""

    def __init__(
        self,
        endpoint: str,
        token: TokenSource,
        *,
        resume: bool = True,
        reconnect: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        max_backoff_s: float = 5.0,
        open_timeout_s: float = 10.0,
        max_queue: int = 16,
    ) -> None:
        self.url = realtime_url(endpoint)
        self.last_seq: int | None = None
        self.stream: str | None = None
        self.ready: Ready | None = None
        self.connects = 0
        self.last_close: tuple[int, str] | None = None
        self._token = token
        self._resume = resume
        self._reconnect = reconnect
        self._ssl = ssl_context
        self._max_backoff_s = max_backoff_s
        self._open_timeout_s = open_timeout_s
        self._max_queue = max_queue
        self._ws: ClientConnection | None = None
        self._closed = False
        self._pending: deque[Event | Resync] = deque()
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reading = asyncio.Lock()
        self._ids = itertools.count(1)

    async def __aenter__(self) -> RealtimeClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _current_token(self, fresh: bool) -> str:
        if isinstance(self._token, str):
            return self._token
        del fresh  # a token function is asked every time; it may cache
        return await self._token()

    async def connect(self, fresh_token: bool = False) -> Ready:
        """Open a connection and authenticate, resuming after `last_seq` if known."""
        kwargs: dict[str, Any] = {}
        if self.url.startswith("wss://"):
            kwargs["ssl"] = self._ssl or ssl.create_default_context()
        ws = await connect(
            self.url,
            open_timeout=self._open_timeout_s,
            max_queue=self._max_queue,
            proxy=None,
            **kwargs,
        )
        token = await self._current_token(fresh_token)
        auth: dict[str, Any] = {"type": "auth", "token": token}
        if self._resume and self.last_seq is not None:
            auth["resumeFrom"] = self.last_seq
            if self.stream is not None:
                auth["stream"] = self.stream
        await ws.send(json.dumps(auth))
        try:
            frame = json.loads(await ws.recv())
            while frame.get("type") == "error":
                frame = json.loads(await ws.recv())
        except ConnectionClosed as exc:
            code, reason = _close_of(exc)
            self.last_close = (code, reason)
            raise RealtimeClosed(code, reason) from exc
        if frame.get("type") != "ready":
            await ws.close()
            raise RealtimeClosed(4000, f"expected a ready frame, got {frame!r}")
        self._ws = ws
        self.connects += 1
        self.ready = Ready(
            connection_id=frame["connectionId"],
            user_id=frame["userId"],
            stream=frame["stream"],
            seq=frame["seq"],
            resumed=frame["resumed"],
            replayed=frame["replayed"],
            heartbeat_interval_s=float(frame["heartbeatIntervalS"]),
            expires_on=frame["expiresOn"],
        )
        self.last_seq = self.ready.seq
        self.stream = self.ready.stream
        log.debug("realtime %s ready at %d", self.ready.connection_id, self.ready.seq)
        return self.ready

    async def events(self) -> AsyncIterator[Event | Resync]:
        """Events as they come, across reconnects, until `close` or a final close."""
        failures = 0
        while not self._closed:
            if self._ws is None:
                try:
                    await self.connect(fresh_token=failures > 0)
                except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                    if not self._reconnect:
                        raise
                    failures += 1
                    log.debug("realtime connect failed (%s); retrying", exc)
                    await self._backoff(failures)
                    continue
                except RealtimeClosed as exc:
                    if not self._can_retry(exc.code):
                        raise
                    failures += 1
                    await self._backoff(failures)
                    continue
                failures = 0
            async for item in self._read():
                yield item
            if not self._reconnect and not self._closed:
                assert self.last_close is not None
                raise RealtimeClosed(*self.last_close)

    def _can_retry(self, code: int) -> bool:
        if not self._reconnect:
            return False
        if code in _NEEDS_TOKEN:
            return not isinstance(self._token, str)
        return code not in _FINAL

    async def _read(self) -> AsyncIterator[Event | Resync]:
        try:
            while True:
                while self._pending:
                    item = self._pending.popleft()
                    if isinstance(item, Event):
                        if self.last_seq is not None and item.seq <= self.last_seq:
                            continue
                        self.last_seq = item.seq
                    else:
                        self.last_seq = item.seq
                    yield item
                await self._pump(lambda: bool(self._pending))
        except (TimeoutError, ConnectionClosed) as exc:
            self.last_close = (
                _close_of(exc)
                if isinstance(exc, ConnectionClosed)
                else (1006, "silent")
            )
            log.debug("realtime connection ended: %s", self.last_close)
            await self._drop_socket()
            code = self.last_close[0]
            if not self._closed and not self._can_retry(code):
                raise RealtimeClosed(*self.last_close) from exc

    async def _pump(self, done: Callable[[], bool]) -> None:
        """Read and sort one frame, unless `done` already holds once it may read."""
        async with self._reading:
            if done():
                return
            ws = self._ws
            if ws is None:
                raise ConnectionClosed(None, None)
            assert self.ready is not None
            # Twice the heartbeat and a margin: a server this quiet is gone.
            silence = 2 * self.ready.heartbeat_interval_s + 5
            frame = json.loads(await asyncio.wait_for(ws.recv(), silence))
            kind = frame.get("type")
            if kind == "event":
                self._pending.append(
                    Event(frame["seq"], frame["event"], frame["data"], frame["time"])
                )
            elif kind == "resync":
                self._pending.append(Resync(frame["seq"], frame["reason"]))
            elif kind == "response":
                answer = self._answers.pop(str(frame.get("id")), None)
                if answer is not None and not answer.done():
                    answer.set_result(frame)
            elif kind == "ping":
                await ws.send('{"type":"pong"}')

    async def request(
        self, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one request and return its result; RequestError on an error answer.

        Events read meanwhile are kept for `events()`. The connection must be
        open (`connect`, or a running `events()` loop).
        """
        ws = self._ws
        if ws is None:
            raise RuntimeError("realtime: expected an open connection, got none")
        request_id = f"q{next(self._ids)}"
        answer: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._answers[request_id] = answer
        frame = {
            "type": "request",
            "id": request_id,
            "method": method,
            "params": params or {},
        }
        try:
            await ws.send(json.dumps(frame))
            while not answer.done():
                await self._pump(answer.done)
        finally:
            self._answers.pop(request_id, None)
        response = answer.result()
        error = response.get("error")
        if error is not None:
            raise RequestError(
                str(error.get("code")), str(error.get("message")), int(error["status"])
            )
        result: dict[str, Any] = response.get("result", {})
        return result

    async def _backoff(self, failures: int) -> None:
        delay = min(self._max_backoff_s, 0.1 * 2 ** min(failures, 10))
        await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def refresh(self, token: str) -> None:
        """Hand the server a fresh token for the same user on the open connection."""
        if self._ws is None:
            raise RuntimeError("realtime: expected an open connection, got none")
        if not isinstance(self._token, str):
            raise RuntimeError("realtime: refresh is for clients given a fixed token")
        self._token = token
        await self._ws.send(json.dumps({"type": "refresh", "token": token}))

    async def drop(self) -> None:
        """Cut the connection without a close handshake, as a network failure would."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    async def _drop_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.transport.abort()

    async def close(self) -> None:
        """Close the connection; `events` ends."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()


def _close_of(exc: ConnectionClosed) -> tuple[int, str]:
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    return 1006, "the connection was lost"
