"""An asyncio STUN (RFC 8489) and TURN (RFC 8656, RFC 6156) server.

Clients reach it over UDP, TCP or TLS; relays are UDP, on IPv4 and, when
``relay_host_v6`` is set, IPv6. Requests are answered by the handlers in
:mod:`switchboard.traversal.requests`; this module owns the sockets, the
allocations and the packet paths.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from switchboard.core.netguard import PeerGuard
from switchboard.traversal.allocation import (
    Allocation,
    AllocationState,
    FiveTuple,
    PortPool,
)
from switchboard.traversal.auth import Authenticator
from switchboard.traversal.channeldata import is_channel_data, parse_channel_data
from switchboard.traversal.limits import KeyedLimiter
from switchboard.traversal.metrics import TurnMetrics
from switchboard.traversal.requests import RequestHandler
from switchboard.traversal.stun import (
    MessageClass,
    StunError,
    parse_message,
)
from switchboard.traversal.transports import (
    PacketSink,
    StreamConnection,
    UdpListener,
)

log = logging.getLogger("switchboard.traversal.turn")


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """Configuration of the STUN/TURN server; every field has a default."""

    realm: str = "switchboard"
    listen_host: str = "127.0.0.1"
    udp_port: int = 3478  # 0 picks a free port
    tcp_port: int = 3478
    tls_port: int = 5349
    relay_host: str = "127.0.0.1"  # address relays bind on and advertise
    relay_port_min: int = 49152
    relay_port_max: int = 65535
    secret: bytes = b""  # shared secret for time-limited credentials
    allowed_peers: tuple[str, ...] = ()  # CIDRs allowed despite the guard
    max_allocations_per_user: int = 64
    max_allocations_total: int = 1000
    bandwidth_bytes_per_s: int = 0  # 0 = no cap
    default_lifetime_s: int = 600
    max_lifetime_s: int = 3600
    relay_host_v6: str = ""  # IPv6 relay address; empty = no IPv6 relays
    nonce_lifetime_s: int = 600
    unauthenticated_replies_per_s: float = 20.0  # 401s per source IP; 0 = no cap
    advertise_password_algorithms: bool = True  # RFC 8489 nonce cookie
    software: str = "switchboard"  # SOFTWARE attribute; empty = none
    sweep_interval_s: float = 1.0


class TurnServer(PacketSink):
    """The STUN/TURN server: listeners, allocations and relaying."""

    def __init__(
        self,
        settings: TurnSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = TurnMetrics(self.registry)
        self.guard = PeerGuard(
            settings.allowed_peers,
            [
                h
                for h in (
                    settings.listen_host,
                    settings.relay_host,
                    settings.relay_host_v6,
                )
                if h
            ],
        )
        self.auth = Authenticator(
            settings.realm,
            settings.secret,
            nonce_lifetime_s=settings.nonce_lifetime_s,
            advertise_password_algorithms=settings.advertise_password_algorithms,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.unauthenticated = KeyedLimiter(
            settings.unauthenticated_replies_per_s,
            max(1.0, settings.unauthenticated_replies_per_s),
            clock,
        )
        self.pool = PortPool(settings.relay_port_min, settings.relay_port_max)
        self.udp_allocations: dict[tuple[str, int], Allocation] = {}
        self.allocations: dict[FiveTuple, Allocation] = {}
        self.handler = RequestHandler(self)
        self._ssl_context = ssl_context
        self._udp: UdpListener | None = None
        self._servers: dict[str, asyncio.Server] = {}
        self._ports: dict[str, int] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # Lifecycle.
    async def start(self) -> None:
        """Bind the UDP, TCP and (with an SSL context) TLS listeners."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        host = settings.listen_host

        # UDP listener.
        _, protocol = await loop.create_datagram_endpoint(
            lambda: UdpListener(self), local_addr=(host, settings.udp_port)
        )
        self._udp = protocol
        self._ports["udp"] = protocol.local[1]

        # TCP and TLS listeners.
        tcp = await loop.create_server(
            lambda: StreamConnection(self, "tcp"), host, settings.tcp_port
        )
        self._servers["tcp"] = tcp
        self._ports["tcp"] = tcp.sockets[0].getsockname()[1]
        if self._ssl_context is not None:
            tls = await loop.create_server(
                lambda: StreamConnection(self, "tls"),
                host,
                settings.tls_port,
                ssl=self._ssl_context,
            )
            self._servers["tls"] = tls
            self._ports["tls"] = tls.sockets[0].getsockname()[1]

        self._sweeper = asyncio.create_task(self._sweep_forever())
        log.info("turn server listening on %s %s", host, self._ports)

    @property
    def ports(self) -> dict[str, int]:
        """Bound ports by transport: "udp", "tcp" and, with TLS, "tls"."""
        return dict(self._ports)

    def is_service_port(self, port: int) -> bool:
        """Whether ``port`` is one of the server's listening ports."""
        return port in self._ports.values()

    async def stop(self) -> None:
        """Close listeners and delete every allocation."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._tasks):
            task.cancel()
        for allocation in list(self.allocations.values()):
            self.delete(allocation, AllocationState.DELETED)
        self.handler.relays.close()
        for server in self._servers.values():
            server.close()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None
        log.info("turn server stopped")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            self.sweep()

    def sweep(self) -> None:
        """Expire allocations, permissions and channels past their lifetime."""
        now = self.clock()
        for allocation in list(self.allocations.values()):
            if allocation.state is AllocationState.ACTIVE:
                if allocation.expires_at <= now:
                    self.delete(allocation, AllocationState.EXPIRED)
                else:
                    allocation.expire_children()
        self.unauthenticated.prune()
        self.handler.relays.sweep()

    # Allocation bookkeeping.
    def register(self, allocation: Allocation) -> None:
        """Record a new allocation under its 5-tuple."""
        self.allocations[allocation.five] = allocation
        if allocation.five.transport == "udp":
            self.udp_allocations[allocation.five.client] = allocation

    def delete(self, allocation: Allocation, state: AllocationState) -> None:
        """End an allocation: close relays, forget it, update counters."""
        was_active = allocation.state is AllocationState.ACTIVE
        if allocation.state in (AllocationState.ALLOCATING, AllocationState.ACTIVE):
            allocation.transition(state)
        allocation.close_relays(self.pool)
        if self.allocations.get(allocation.five) is allocation:
            del self.allocations[allocation.five]
        if self.udp_allocations.get(allocation.five.client) is allocation:
            del self.udp_allocations[allocation.five.client]
        if was_active:
            self.metrics.allocations_active.dec()

    def count_for_user(self, user: str) -> int:
        """Allocations (active or being made) held by a user."""
        return sum(1 for a in self.allocations.values() if a.user == user)

    def spawn(self, coro: Any) -> None:
        """Run a request coroutine in the background, keeping a reference."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Packet paths. Anything that is neither STUN nor ChannelData is dropped.
    def on_datagram(self, listener: UdpListener, data: bytes, addr: Any) -> None:
        """One UDP datagram from a client."""
        if not data:
            return
        client = (addr[0], addr[1])
        first = data[0]
        if 0x40 <= first < 0x80:
            allocation = self.udp_allocations.get(client)
            if allocation is not None:
                self._channel_data(allocation, data)
            return
        if first >= 0x40:
            return
        five = FiveTuple("udp", client, listener.local)
        self._stun(data, five, lambda frame: listener.send(frame, client), False)

    def on_frame(self, connection: StreamConnection, frame: bytes) -> None:
        """One whole frame from a TCP or TLS client."""
        if connection.five is None:
            return
        if is_channel_data(frame):
            if connection.allocation is not None:
                self._channel_data(connection.allocation, frame)
            return
        self._stun(frame, connection.five, connection.send, True, connection)

    def on_stream_closed(self, connection: StreamConnection) -> None:
        """RFC 8656 §3.1: closing the connection deletes its allocation."""
        allocation = connection.allocation
        connection.allocation = None
        if allocation is not None and allocation.state in (
            AllocationState.ALLOCATING,
            AllocationState.ACTIVE,
        ):
            self.delete(allocation, AllocationState.DELETED)

    def _channel_data(self, allocation: Allocation, data: bytes) -> None:
        try:
            message = parse_channel_data(data)
        except StunError as exc:
            log.debug("%s dropped ChannelData: %s", allocation.label, exc)
            return
        if allocation.active:
            allocation.channel_to_peer(message.channel, message.data)

    def _stun(
        self,
        data: bytes,
        five: FiveTuple,
        send: Callable[[bytes], None],
        stream: bool,
        connection: StreamConnection | None = None,
    ) -> None:
        try:
            message = parse_message(data)
        except StunError as exc:
            log.debug("%s dropped: %s", five, exc)
            self.metrics.dropped_packets.labels("malformed").inc()
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s <- %s %s",
                five,
                message.message_class.name,
                _method_name(message.method),
            )
        if message.message_class is MessageClass.REQUEST:
            self.handler.request(message, five, send, stream, connection)
        elif message.message_class is MessageClass.INDICATION:
            self.handler.indication(message, five)


def _method_name(method: int) -> str:
    from switchboard.traversal.stun import Method

    try:
        return Method(method).name
    except ValueError:
        return f"0x{method:03x}"
