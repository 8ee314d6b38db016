"""A webhook receiver for tests: records what arrives, answers as told."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that plays a webhook owner."""

    handshake: bool = True
    script: list[int] = field(default_factory=list)
    """Statuses to answer deliveries with, in turn; 200 once it runs out."""
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    on_event: Callable[[Received], None] | None = None
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self) -> list[Received]:
        """Deliveries of events, without handshakes."""
        return [
            r
            for r in self.received
            if r.method == "POST"
            and r.headers.get("aeg-event-type") != "SubscriptionValidation"
        ]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        item = Received(
            request.method, request.path, dict(request.headers), await request.read()
        )
        self.received.append(item)
        if request.path == "/redirect":
            raise web.HTTPFound("/hook")
        if request.method == "OPTIONS":
            if not self.handshake:
                return web.Response(status=403)
            origin = request.headers.get("WebHook-Request-Origin", "")
            return web.Response(headers={"WebHook-Allowed-Origin": origin})
        if request.headers.get("aeg-event-type") == "SubscriptionValidation":
            if not self.handshake:
                return web.Response(status=200, text="{}")
            code = item.json()[0]["data"]["validationCode"]
            return web.json_response({"validationResponse": code})
        if self.on_event is not None:
            self.on_event(item)
        status = self.script.pop(0) if self.script else 200
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        return web.Response(status=status, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ThreadedReceiver:
    """A Receiver running on its own event loop in a thread, for sync tests."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(receiver.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
