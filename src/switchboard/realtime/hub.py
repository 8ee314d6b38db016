"""The realtime hub: numbers events per user, fans them out, and holds the sockets.

`notify` appends the event to each recipient's stream in the event log and
publishes it once on the bus; every node (this one included) hands it to the
feeds of the recipients that have sockets there. Revocation and deletion of a
user, announced on the bus by the identity service, end that user's sockets.

Capabilities register the realtime methods they answer (`handle`) and the
scopes their events need (`register_events`); a connection sees an event only
when its token has one of those scopes (chat events need a chat scope).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.auth.scopes import CHAT_SCOPES, VOIP_SCOPES, Scope
from switchboard.auth.tokens import Principal, TokenVerifier
from switchboard.bus import Bus, Subscription
from switchboard.bus.base import Message
from switchboard.config import RealtimeSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError
from switchboard.identity.service import USER_CHANGED
from switchboard.realtime import frames
from switchboard.realtime.eventlog import (
    Entry,
    EventLog,
    MemoryEventLog,
    Retention,
)
from switchboard.realtime.feed import UserFeed
from switchboard.realtime.frames import CloseCode
from switchboard.realtime.session import Connection

log = logging.getLogger(__name__)

# Every node subscribes to this one topic and keeps what its own sockets need;
# the topic is not partitioned by user, which suits a handful of nodes.
EVENTS_TOPIC = "realtime.events"
"""Bus topic: one notified event with each recipient's number in its stream."""

SWEEP_S = 60.0
"""How often the in-process log drops streams whose events have all aged out."""


class RealtimeMetrics:
    """The gateway's Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter(
            "switchboard_realtime_connections",
            "Realtime WebSocket connections opened.",
            registry=registry,
        )
        self.open = Gauge(
            "switchboard_realtime_open_connections",
            "Authenticated realtime connections open on this node.",
            registry=registry,
        )
        self.frames_in = Counter(
            "switchboard_realtime_frames_received",
            "Frames received from realtime clients.",
            registry=registry,
        )
        self.frames_out = Counter(
            "switchboard_realtime_frames_sent",
            "Frames sent to realtime clients.",
            registry=registry,
        )
        self.slow_consumers = Counter(
            "switchboard_realtime_slow_consumers",
            "Connections closed because the client did not read fast enough.",
            registry=registry,
        )
        self.closes = Counter(
            "switchboard_realtime_closes",
            "Connections closed by the server, by close code.",
            ["code"],
            registry=registry,
        )
        self.resyncs = Counter(
            "switchboard_realtime_resyncs",
            "Resync frames sent because events were no longer kept.",
            registry=registry,
        )
        self.events = Counter(
            "switchboard_realtime_events",
            "Events notified, counted once per recipient.",
            registry=registry,
        )


GATEWAY_SCOPES = CHAT_SCOPES | VOIP_SCOPES
"""A token needs one of these to connect: chat for chat events, voip for calls."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the connection, its user and the token's principal."""

    connection_id: str
    principal: Principal

    @property
    def user(self) -> str:
        """The caller's raw user id."""
        return self.principal.user.raw


Handler = Callable[[Caller, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers one request method: its params in, its result out; AcsError on failure."""

ClosedListener = Callable[[str, str], Awaitable[None]]
"""Told (connection id, user) when an authenticated connection has closed."""

PresenceHook = Callable[[str], None]
"""Told a user id when the user comes to or leaves this node (see `on_presence`)."""


@dataclass(frozen=True, slots=True)
class _Method:
    handler: Handler
    scopes: frozenset[Scope]


def retention(settings: RealtimeSettings) -> Retention:
    """The event log's window from the configuration."""
    return Retention(settings.retention_events, settings.retention_s)


async def open_event_log(
    redis_url: str, settings: RealtimeSettings, clock: Clock
) -> EventLog:
    """The in-process log, or the Redis one when a URL is given."""
    if not redis_url:
        return MemoryEventLog(retention(settings), clock)
    from switchboard.realtime.redislog import RedisEventLog

    redis_log = RedisEventLog(redis_url, retention(settings), clock)
    await redis_log.start()
    return redis_log


class RealtimeHub:
    """Implements `Notifier`: delivers events to every socket of a user, on any node."""

    def __init__(
        self,
        settings: RealtimeSettings,
        bus: Bus,
        event_log: EventLog,
        tokens: TokenVerifier,
        clock: Clock,
        registry: CollectorRegistry,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.log = event_log
        self.metrics = RealtimeMetrics(registry)
        self._bus = bus
        self._tokens = tokens
        self._feeds: dict[str, UserFeed] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._methods: dict[str, _Method] = {}
        self._event_scopes: dict[str, frozenset[Scope]] = {}
        self._closed_listeners: list[ClosedListener] = []
        self._presence: list[tuple[PresenceHook, PresenceHook]] = []

    async def start(self) -> None:
        """Listen for events and user changes from every node."""
        self._subscriptions.append(
            await self._bus.subscribe(EVENTS_TOPIC, self._on_events)
        )
        self._subscriptions.append(
            await self._bus.subscribe(USER_CHANGED, self._on_user_changed)
        )
        if isinstance(self.log, MemoryEventLog):
            self._sweeper = asyncio.create_task(self._sweep(self.log))

    async def stop(self) -> None:
        """Close every socket with 1001, then stop listening."""
        for feed in list(self._feeds.values()):
            for subscriber in list(feed.subscribers):
                assert isinstance(subscriber, Connection)
                subscriber.close(CloseCode.GOING_AWAY, "the node is stopping")
        for subscription in self._subscriptions:
            await subscription.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await asyncio.gather(
            *self._tasks,
            *([self._sweeper] if self._sweeper else []),
            return_exceptions=True,
        )
        await self.log.close()

    # The Notifier interface

    async def stage(
        self,
        conn: AsyncConnection,
        recipients: Sequence[str],
        event: str,
        data: Mapping[str, Any],
    ) -> None:
        """Nothing to keep: connected clients catch up on reconnection."""
        return None

    async def notify(
        self, recipients: Iterable[str], event: str, data: Mapping[str, Any]
    ) -> None:
        """Number the event in each recipient's stream, then fan it out on the bus."""
        users = list(dict.fromkeys(recipients))
        if not users:
            return
        now = self.clock()
        payload = dict(data)
        numbers = await self.log.append(users, event, payload, now)
        self.metrics.events.inc(len(users))
        log.debug("notify %s to %d users", event, len(users))
        await self._bus.publish(
            EVENTS_TOPIC,
            {
                "event": event,
                "data": payload,
                "time": now,
                "to": dict(zip(users, numbers, strict=True)),
            },
        )

    # What connections use

    async def verify(self, token: str) -> Principal:
        """Check a token as the REST APIs do; a chat or a voip scope lets it in."""
        return await self._tokens.verify(token, GATEWAY_SCOPES)

    # What capabilities register

    def handle(self, method: str, handler: Handler, scopes: frozenset[Scope]) -> None:
        """Answer `method` requests from connections whose token has one of `scopes`."""
        self._methods[method] = _Method(handler, scopes)

    def register_events(self, events: Iterable[str], scopes: frozenset[Scope]) -> None:
        """Deliver these events only to connections with one of `scopes`."""
        for event in events:
            self._event_scopes[event] = scopes

    def on_presence(self, connected: PresenceHook, gone: PresenceHook) -> None:
        """Be told when a user's first connection here opens and the last closes."""
        self._presence.append((connected, gone))

    def on_closed(self, listener: ClosedListener) -> None:
        """Call `listener` with (connection id, user) whenever a connection closes."""
        self._closed_listeners.append(listener)

    def delivers(self, connection: Connection, event: str) -> bool:
        """Whether the connection's token lets it see `event`."""
        wanted = self._event_scopes.get(event, CHAT_SCOPES)
        return bool(connection.scopes & wanted)

    async def dispatch(
        self, connection: Connection, request: frames.Request
    ) -> dict[str, Any]:
        """Run one request and return its `response` frame."""
        if request.problem is not None:
            return frames.failure_frame(
                request.id, "BadRequest", f"realtime request: {request.problem}", 400
            )
        method = self._methods.get(request.method)
        if method is None:
            return frames.failure_frame(
                request.id,
                "BadRequest",
                f"realtime request: unknown method {request.method!r}",
                400,
            )
        principal = connection.principal
        assert principal is not None
        if not principal.scopes & method.scopes:
            wanted = " or ".join(sorted(s.value for s in method.scopes))
            return frames.failure_frame(
                request.id,
                "Forbidden",
                f"{request.method} needs a token with the {wanted} scope",
                403,
            )
        log.debug("%s %s: request %s", connection.id, connection.user, request.method)
        try:
            result = await method.handler(
                Caller(connection.id, principal), request.params
            )
        except AcsError as exc:
            log.info(
                "%s %s: %s refused: %s",
                connection.id,
                connection.user,
                request.method,
                exc,
            )
            return frames.failure_frame(request.id, exc.code, exc.message, exc.status)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "%s %s: %s failed", connection.id, connection.user, request.method
            )
            return frames.failure_frame(
                request.id, "InternalError", "an internal error occurred", 500
            )
        return frames.result_frame(request.id, result)

    async def attach(self, connection: Connection) -> None:
        """Register a connection with its user's feed, once the feed is ready."""
        feed = self._feeds.get(connection.user)
        if feed is None:
            feed = self._feeds[connection.user] = UserFeed(connection.user, self.log)
            feed.subscribers.add(connection)
            for connected, _ in self._presence:
                connected(connection.user)
            self.metrics.open.inc()
            await feed.start()
            return
        feed.subscribers.add(connection)
        self.metrics.open.inc()
        await feed.ready()

    def detach(self, connection: Connection) -> None:
        """Forget a closed connection; the feed goes with its last one."""
        feed = self._feeds.get(connection.user)
        if feed is None or connection not in feed.subscribers:
            return
        feed.subscribers.discard(connection)
        self.metrics.open.dec()
        if not feed.subscribers:
            feed.close()
            del self._feeds[connection.user]
            for _, gone in self._presence:
                gone(connection.user)
        for listener in self._closed_listeners:
            task = asyncio.create_task(self._tell_closed(listener, connection))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tell_closed(
        self, listener: ClosedListener, connection: Connection
    ) -> None:
        try:
            await listener(connection.id, connection.user)
        except Exception:
            log.exception(
                "%s %s: a close listener failed", connection.id, connection.user
            )

    def connections(self, user: str) -> list[Connection]:
        """The user's connections on this node."""
        feed = self._feeds.get(user)
        if feed is None:
            return []
        return [c for c in feed.subscribers if isinstance(c, Connection)]

    # Bus handlers

    async def _on_events(self, message: Message) -> None:
        to: dict[str, int] = message["to"]
        event = message["event"]
        data = message["data"]
        time = float(message["time"])
        for user, seq in to.items():
            feed = self._feeds.get(user)
            if feed is not None:
                feed.offer(Entry(int(seq), time, event, data))

    async def _on_user_changed(self, message: Message) -> None:
        user = str(message.get("user"))
        connections = self.connections(user)
        if not connections:
            return
        task = asyncio.create_task(self._recheck(connections))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck(self, connections: list[Connection]) -> None:
        for connection in connections:
            try:
                await self.verify(connection.token)
            except AcsError as exc:
                log.info(
                    "%s %s: token no longer valid: %s",
                    connection.id,
                    connection.user,
                    exc.message,
                )
                connection.close(CloseCode.TOKEN_REVOKED, exc.message)

    async def _sweep(self, memory_log: MemoryEventLog) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            dropped = memory_log.sweep()
            if dropped:
                log.debug("event log: %d idle streams dropped", dropped)
