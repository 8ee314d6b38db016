"""TURN allocations (RFC 8656 §2.2): relays, permissions, channels, lifetimes."""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import random
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from switchboard.traversal.limits import TokenBucket
from switchboard.traversal.metrics import TurnMetrics
from switchboard.traversal.stun import (
    Address,
    AddressFamily,
    Attribute,
    AttributeType,
    Message,
    MessageClass,
    Method,
    encode_address,
)

log = logging.getLogger("switchboard.traversal.allocation")

# RFC 8656 §9 and §12: permission and channel binding lifetimes.
PERMISSION_LIFETIME_S = 300.0
CHANNEL_LIFETIME_S = 600.0


@dataclass(frozen=True, slots=True)
class FiveTuple:
    """Client transport, client address and server address of a connection."""

    transport: str
    client: tuple[str, int]
    server: tuple[str, int]

    def __str__(self) -> str:
        client = f"{self.client[0]}:{self.client[1]}"
        server = f"{self.server[0]}:{self.server[1]}"
        return f"{self.transport} {client}->{server}"


class AllocationState(enum.Enum):
    """Lifecycle of an allocation."""

    ALLOCATING = "allocating"
    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"


_TRANSITIONS = {
    AllocationState.ALLOCATING: {AllocationState.ACTIVE, AllocationState.DELETED},
    AllocationState.ACTIVE: {AllocationState.EXPIRED, AllocationState.DELETED},
    AllocationState.EXPIRED: set(),
    AllocationState.DELETED: set(),
}


class PortPool:
    """Relay ports in the configured range, bound one socket at a time."""

    def __init__(self, low: int, high: int) -> None:
        self.low = low
        self.high = high
        self._used: set[tuple[int, int]] = set()

    def bind(
        self, host: str, family: AddressFamily, *, even: bool = False
    ) -> socket.socket | None:
        """A UDP socket bound to a free port of the range, or None if none is."""
        for port in self._candidates(family, even):
            sock = _try_bind(host, family, port)
            if sock is not None:
                self._used.add((family, port))
                return sock
        return None

    def bind_pair(
        self, host: str, family: AddressFamily
    ) -> tuple[socket.socket, socket.socket] | None:
        """Sockets on an even port and the port after it (RFC 8656 §7.2 R bit)."""
        for port in self._candidates(family, even=True):
            first = _try_bind(host, family, port)
            if first is None:
                continue
            second = _try_bind(host, family, port + 1)
            if second is None:
                first.close()
                continue
            self._used.update({(family, port), (family, port + 1)})
            return first, second
        return None

    def release(self, family: AddressFamily, port: int) -> None:
        """Give a port back to the pool."""
        self._used.discard((family, port))

    def _candidates(self, family: AddressFamily, even: bool) -> Iterator[int]:
        # Start at a random place so that relay ports are hard to guess, and
        # give up after a bounded number of busy ports.
        span = self.high - self.low + 1
        start = random.randrange(span)
        tries = 0
        for i in range(span):
            port = self.low + (start + i) % span
            if (family, port) in self._used or (even and port % 2):
                continue
            if even and (family, port + 1) in self._used:
                continue
            tries += 1
            if tries > 64:
                return
            yield port


def _try_bind(host: str, family: AddressFamily, port: int) -> socket.socket | None:
    af = socket.AF_INET6 if family == AddressFamily.IPV6 else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock


class RelayProtocol(asyncio.DatagramProtocol):
    """Receives peer datagrams on one relayed transport address."""

    def __init__(self, allocation: Allocation, family: AddressFamily) -> None:
        self._allocation = allocation
        self._family = family

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Hand a peer datagram to the allocation."""
        self._allocation.from_peer(data, addr[0], addr[1])

    def error_received(self, exc: Exception) -> None:
        """ICMP errors from peers are logged and otherwise ignored."""
        log.debug("%s relay error: %s", self._allocation.label, exc)


@dataclass(slots=True)
class Relay:
    """One relayed transport address and its socket's transport."""

    address: Address
    transport: asyncio.DatagramTransport | None = None


class Allocation:
    """One TURN allocation and everything hanging off it."""

    def __init__(
        self,
        five: FiveTuple,
        username: str,
        user: str,
        *,
        send_to_client: Callable[[bytes], None],
        stream: bool,
        metrics: TurnMetrics,
        clock: Callable[[], float],
        bandwidth_bytes_per_s: int,
    ) -> None:
        self.id = os.urandom(4).hex()
        self.five = five
        self.username = username
        self.user = user
        self.state = AllocationState.ALLOCATING
        self.relays: dict[AddressFamily, Relay] = {}
        self.expires_at = 0.0
        self.allocate_transaction: bytes = b""
        self.allocate_response: bytes = b""
        self.permissions: dict[str, float] = {}
        self.channels: dict[int, tuple[tuple[str, int], float]] = {}
        self.channel_of_peer: dict[tuple[str, int], int] = {}
        self.label = f"[alloc {self.id} user={user} {five}]"
        self._send_to_client = send_to_client
        self._stream = stream
        self._metrics = metrics
        self._clock = clock
        self._bucket = (
            TokenBucket(
                bandwidth_bytes_per_s, max(bandwidth_bytes_per_s, 4096.0), clock
            )
            if bandwidth_bytes_per_s > 0
            else None
        )

    def transition(self, new: AllocationState) -> None:
        """Move to ``new``, refusing moves the lifecycle does not allow."""
        old = self.state
        if new not in _TRANSITIONS[old]:
            raise RuntimeError(
                f"allocation: expected a move from {old.name}, got {new}"
            )
        self.state = new
        log.info("%s %s -> %s", self.label, old.value, new.value)

    @property
    def active(self) -> bool:
        """Whether the allocation is active and not past its lifetime."""
        return self.state is AllocationState.ACTIVE and self._clock() < self.expires_at

    def lifetime_left(self) -> int:
        """Whole seconds until expiry."""
        return max(0, round(self.expires_at - self._clock()))

    # RFC 8656 §9: permissions are per peer IP and last 300 seconds.
    def permit(self, host: str) -> None:
        """Install or refresh a permission for a peer IP."""
        self.permissions[host] = self._clock() + PERMISSION_LIFETIME_S

    def permitted(self, host: str) -> bool:
        """Whether there is an unexpired permission for a peer IP."""
        expiry = self.permissions.get(host)
        return expiry is not None and self._clock() < expiry

    # RFC 8656 §12: a channel binds a number to one peer address for 600 s.
    def channel_conflict(self, channel: int, peer: tuple[str, int]) -> bool:
        """Whether binding would move a live channel or peer to another partner."""
        now = self._clock()
        bound = self.channels.get(channel)
        if bound is not None and bound[1] > now and bound[0] != peer:
            return True
        other = self.channel_of_peer.get(peer)
        if other is not None and other != channel:
            return self.channels[other][1] > now
        return False

    def bind_channel(self, channel: int, peer: tuple[str, int]) -> None:
        """Bind or refresh a channel, and the permission for its peer."""
        old = self.channels.get(channel)
        if old is not None:
            self.channel_of_peer.pop(old[0], None)
        other = self.channel_of_peer.pop(peer, None)
        if other is not None:
            self.channels.pop(other, None)
        self.channels[channel] = (peer, self._clock() + CHANNEL_LIFETIME_S)
        self.channel_of_peer[peer] = channel
        self.permit(peer[0])

    def expire_children(self) -> None:
        """Forget expired permissions and channel bindings."""
        now = self._clock()
        for host in [h for h, t in self.permissions.items() if t <= now]:
            del self.permissions[host]
        for channel in [c for c, (_, t) in self.channels.items() if t <= now]:
            peer, _ = self.channels.pop(channel)
            self.channel_of_peer.pop(peer, None)

    def _within_bandwidth(self, size: int) -> bool:
        if self._bucket is None or self._bucket.take(size):
            return True
        self._metrics.dropped_packets.labels("bandwidth").inc()
        return False

    # RFC 8656 §11.3 and §12.6: client data out of the relay to a peer.
    def to_peer(
        self, family: AddressFamily, peer: tuple[str, int], data: bytes
    ) -> None:
        """Send client data to a peer, if allowed, over the relay of its family."""
        relay = self.relays.get(family)
        if relay is None or relay.transport is None or not self.permitted(peer[0]):
            self._metrics.dropped_packets.labels("no_permission").inc()
            return
        if not self._within_bandwidth(len(data)):
            return
        relay.transport.sendto(data, peer)
        self._metrics.packets_to_peer.inc()
        self._metrics.bytes_to_peer.inc(len(data))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> peer %s:%d %d bytes", self.label, *peer, len(data))

    def channel_to_peer(self, channel: int, data: bytes) -> None:
        """Send ChannelData payload to the peer the channel is bound to."""
        bound = self.channels.get(channel)
        if bound is None or bound[1] <= self._clock():
            self._metrics.dropped_packets.labels("unbound_channel").inc()
            return
        peer = bound[0]
        family = AddressFamily.IPV6 if ":" in peer[0] else AddressFamily.IPV4
        self.to_peer(family, peer, data)

    # RFC 8656 §11.4 and §12.6: peer data back to the client.
    def from_peer(self, data: bytes, host: str, port: int) -> None:
        """Relay a peer datagram to the client as ChannelData or a Data indication."""
        if self.state is not AllocationState.ACTIVE or not self.permitted(host):
            self._metrics.dropped_packets.labels("no_permission").inc()
            return
        if not self._within_bandwidth(len(data)):
            return
        peer = (host, port)
        channel = self.channel_of_peer.get(peer)
        if channel is not None and self.channels[channel][1] > self._clock():
            frame = struct.pack("!HH", channel, len(data)) + data
            if self._stream and len(data) % 4:
                frame += bytes(-len(data) % 4)
        else:
            transaction_id = os.urandom(12)
            frame = bytes(
                Message(
                    Method.DATA,
                    MessageClass.INDICATION,
                    transaction_id,
                    (
                        Attribute(
                            AttributeType.XOR_PEER_ADDRESS,
                            encode_address(Address(host, port), transaction_id),
                        ),
                        Attribute(AttributeType.DATA, data),
                    ),
                )
            )
        self._send_to_client(frame)
        self._metrics.packets_to_client.inc()
        self._metrics.bytes_to_client.inc(len(data))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s <- peer %s:%d %d bytes", self.label, host, port, len(data))

    def close_relays(self, pool: PortPool) -> None:
        """Close every relay socket and return its port to the pool."""
        for family, relay in list(self.relays.items()):
            self.close_relay(family, relay, pool)

    def close_relay(self, family: AddressFamily, relay: Relay, pool: PortPool) -> None:
        """Close one relay socket and return its port."""
        if relay.transport is not None:
            relay.transport.close()
        pool.release(family, relay.address.port)
        self.relays.pop(family, None)
