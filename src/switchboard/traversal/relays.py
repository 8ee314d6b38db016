"""Relay sockets for new allocations, EVEN-PORT and reservations (RFC 8656 §7.2)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.traversal.allocation import PortPool
from switchboard.traversal.stun import AddressFamily, decode_even_port

# RFC 8656 §7.2: a reserved port is held for about 30 seconds.
RESERVATION_LIFETIME_S = 30.0


class NoCapacityError(Exception):
    """No relay port could be had (answered 508 Insufficient Capacity)."""


@dataclass(slots=True)
class Reservation:
    """A relay port held for a later Allocate with RESERVATION-TOKEN."""

    sock: socket.socket
    family: AddressFamily
    expires_at: float


class RelayBinder:
    """Binds relay sockets from the port pool and keeps reserved ports."""

    def __init__(
        self,
        pool: PortPool,
        clock: Callable[[], float],
        host_v4: str,
        host_v6: str,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._host_v4 = host_v4
        self._host_v6 = host_v6
        self.reservations: dict[bytes, Reservation] = {}

    def bind(
        self,
        families: list[AddressFamily],
        token: bytes | None,
        raw_even: bytes | None,
    ) -> tuple[dict[AddressFamily, socket.socket], bytes | None]:
        """Bind relay sockets per family; a new token when EVEN-PORT asks R."""
        pool = self._pool
        sockets: dict[AddressFamily, socket.socket] = {}
        new_token: bytes | None = None

        # A reserved port: the token must be known and still held.
        if token is not None:
            reservation = self.reservations.pop(token, None)
            if reservation is None or reservation.expires_at <= self._clock():
                if reservation is not None:
                    self._drop_reservation(reservation)
                raise NoCapacityError("reservation token unknown or expired")
            return {reservation.family: reservation.sock}, None

        for family in families:
            host = self.host(family)
            sock: socket.socket | None
            if raw_even is not None and not sockets:
                if decode_even_port(raw_even):
                    pair = pool.bind_pair(host, family)
                    sock = pair[0] if pair else None
                    if pair is not None:
                        new_token = os.urandom(8)
                        self.reservations[new_token] = Reservation(
                            pair[1],
                            family,
                            self._clock() + RESERVATION_LIFETIME_S,
                        )
                else:
                    sock = pool.bind(host, family, even=True)
            else:
                sock = pool.bind(host, family)
            if sock is None:
                for bound in sockets.values():
                    pool.release(_family_of(bound), bound.getsockname()[1])
                    bound.close()
                raise NoCapacityError(f"relay ports exhausted for {family.name}")
            sockets[family] = sock
        return sockets, new_token

    def host(self, family: AddressFamily) -> str:
        """The relay address for a family."""
        if family == AddressFamily.IPV6:
            return self._host_v6
        return self._host_v4

    def _drop_reservation(self, reservation: Reservation) -> None:
        port = reservation.sock.getsockname()[1]
        reservation.sock.close()
        self._pool.release(reservation.family, port)

    def sweep(self) -> None:
        """Release reservations nobody claimed in time."""
        now = self._clock()
        for token, reservation in list(self.reservations.items()):
            if reservation.expires_at <= now:
                del self.reservations[token]
                self._drop_reservation(reservation)

    def close(self) -> None:
        """Release every reservation."""
        for reservation in self.reservations.values():
            self._drop_reservation(reservation)
        self.reservations.clear()


def _family_of(sock: socket.socket) -> AddressFamily:
    if sock.family == socket.AF_INET6:
        return AddressFamily.IPV6
    return AddressFamily.IPV4
