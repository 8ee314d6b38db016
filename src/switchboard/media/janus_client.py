"""A client for Janus's JSON API over WebSocket: one connection, one session.

Janus API (janus.conf.meetecho.com/docs/rest): every request names a
`transaction` echoed in its answer. `create`, `attach`, `detach` and
synchronous plugin requests answer `success` or `error`; `keepalive` and
`trickle` answer `ack`; asynchronous plugin requests answer `ack` at once and
later an `event` carrying the same transaction. Events without a pending
transaction (`webrtcup`, `hangup`, `slowlink`, `media`, `detached`, plugin
events) go to the event callback. A session that hears nothing for
`session_timeout` (60 s) is destroyed with a `timeout` event, so a keepalive
goes out every `keepalive_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

log = logging.getLogger(__name__)

SUBPROTOCOL = "janus-protocol"
"""The WebSocket subprotocol of Janus's API."""

NO_SUCH_SESSION = 458
NO_SUCH_HANDLE = 459

JanusMessage = dict[str, Any]
EventCallback = Callable[[JanusMessage], None]


class JanusError(Exception):
    """Janus or one of its plugins refused a request."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class ConnectionLost(Exception):
    """The WebSocket to Janus closed, or the session on it is gone."""


@dataclass(frozen=True, slots=True)
class PluginReply:
    """What a plugin answered: its data and, for offers and answers, the JSEP."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[JanusMessage]
    until_event: bool
    """An asynchronous plugin request: its `ack` is not the answer."""


class JanusSession:
    """A WebSocket connection to one Janus and the session opened on it."""

    def __init__(
        self,
        name: str,
        url: str,
        on_event: EventCallback,
        api_secret: str = "",
        request_timeout_s: float = 10.0,
        keepalive_s: float = 25.0,
    ) -> None:
        self.name = name
        self.url = url
        self.session_id = 0
        self._on_event = on_event
        self._api_secret = api_secret
        self._timeout = request_timeout_s
        self._keepalive_s = keepalive_s
        self._ws: ClientConnection | None = None
        self._pending: dict[str, _Pending] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._ids = itertools.count()
        self.lost_reason = ""

    @property
    def closed(self) -> bool:
        """Whether the connection or the session is gone."""
        return self._closed.is_set()

    async def wait_closed(self) -> str:
        """Wait until the connection or the session is gone; returns why."""
        await self._closed.wait()
        return self.lost_reason

    async def open(self) -> None:
        """Connect and create the session; raises OSError or JanusError."""
        try:
            self._ws = await asyncio.wait_for(
                connect(
                    self.url,
                    subprotocols=[Subprotocol(SUBPROTOCOL)],
                    max_size=None,
                    open_timeout=self._timeout,
                ),
                self._timeout,
            )
        except (WebSocketException, TimeoutError) as exc:
            raise OSError(f"cannot reach janus at {self.url}: {exc}") from exc
        self._tasks.append(asyncio.create_task(self._read()))
        try:
            answer = await self._request({"janus": "create"})
        except ConnectionLost as exc:
            raise OSError(f"janus at {self.url} closed the connection") from exc
        self.session_id = int(answer["data"]["id"])
        self._tasks.append(asyncio.create_task(self._keepalive()))
        log.info("janus %s: session %d opened", self.name, self.session_id)

    async def close(self) -> None:
        """Destroy the session (its handles hang up) and disconnect."""
        if not self.closed and self.session_id:
            with contextlib.suppress(JanusError, ConnectionLost, TimeoutError):
                await self._request({"janus": "destroy"})
        self._lose("closed by this node")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._ws is not None:
            await self._ws.close()

    async def attach(self, plugin: str) -> int:
        """Attach a handle to `plugin`; returns its id."""
        answer = await self._request({"janus": "attach", "plugin": plugin})
        return int(answer["data"]["id"])

    async def detach(self, handle_id: int) -> None:
        """Detach a handle: its peer connection hangs up and the plugin forgets it."""
        await self._request({"janus": "detach", "handle_id": handle_id})

    async def message(
        self,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        asynchronous: bool = False,
    ) -> PluginReply:
        """Send a plugin request; an asynchronous one waits for its event."""
        request: JanusMessage = {"janus": "message", "handle_id": handle_id}
        request["body"] = body
        if jsep is not None:
            request["jsep"] = jsep
        answer = await self._request(request, until_event=asynchronous)
        plugindata = answer.get("plugindata") or {}
        data = plugindata.get("data") or {}
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return PluginReply(data=data, jsep=answer.get("jsep"))

    async def trickle(self, handle_id: int, candidate: dict[str, Any] | None) -> None:
        """Trickle one ICE candidate of the client, or the end of its gathering."""
        request: JanusMessage = {"janus": "trickle", "handle_id": handle_id}
        # A browser ends its gathering with null, or with an empty candidate
        # string (W3C WebRTC §4.8.1); Janus wants {"completed": true}.
        done = not candidate or not candidate.get("candidate")
        request["candidate"] = {"completed": True} if done else candidate
        await self._request(request)

    async def _request(
        self, request: JanusMessage, until_event: bool = False
    ) -> JanusMessage:
        if self.closed or self._ws is None:
            raise ConnectionLost(self.lost_reason or "not connected")
        transaction = f"t{next(self._ids)}"
        request["transaction"] = transaction
        if self.session_id and request["janus"] != "create":
            request["session_id"] = self.session_id
        if self._api_secret:
            request["apisecret"] = self._api_secret
        future = asyncio.get_running_loop().create_future()
        self._pending[transaction] = _Pending(future, until_event)
        log.debug("janus %s: -> %s %s", self.name, request["janus"], transaction)
        try:
            await self._ws.send(json.dumps(request))
            answer: JanusMessage = await asyncio.wait_for(future, self._timeout)
        except WebSocketException as exc:
            self._lose(f"send failed: {exc}")
            raise ConnectionLost(self.lost_reason) from exc
        finally:
            self._pending.pop(transaction, None)
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return answer

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("janus %s: a frame that is not JSON", self.name)
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except WebSocketException as exc:
            self._lose(f"connection failed: {exc}")
            return
        except OSError as exc:
            self._lose(f"connection failed: {exc}")
            return
        self._lose("connection closed")

    def _dispatch(self, message: JanusMessage) -> None:
        kind = message.get("janus")
        transaction = message.get("transaction")
        log.debug("janus %s: <- %s %s", self.name, kind, transaction or "")
        pending = self._pending.get(transaction) if transaction else None
        if pending is not None and not pending.future.done():
            if not (kind == "ack" and pending.until_event):
                pending.future.set_result(message)
                return
            return
        if kind == "timeout" and message.get("session_id") == self.session_id:
            self._lose("janus timed the session out")
            return
        if kind in ("ack", "success", "error"):
            return
        try:
            self._on_event(message)
        except Exception:
            log.exception("janus %s: event listener failed", self.name)

    async def _keepalive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self._keepalive_s)
            try:
                await self._request({"janus": "keepalive"})
            except JanusError as exc:
                if exc.code == NO_SUCH_SESSION:
                    self._lose("janus no longer knows the session")
                    return
                log.warning("janus %s: keepalive refused: %s", self.name, exc)
            except TimeoutError:
                self._lose("keepalive unanswered")
                if self._ws is not None:
                    await self._ws.close()
                return
            except ConnectionLost:
                return

    def _lose(self, reason: str) -> None:
        if self.closed:
            return
        self.lost_reason = reason
        self._closed.set()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionLost(reason))
        if reason != "closed by this node":
            log.warning("janus %s: session lost: %s", self.name, reason)
