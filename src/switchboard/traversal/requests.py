"""STUN and TURN request handling: Binding, Allocate, Refresh, CreatePermission,
ChannelBind, and the Send indication (RFC 8489, RFC 8656, RFC 6156)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from switchboard.core.netguard import canonical
from switchboard.traversal import credentials
from switchboard.traversal.allocation import (
    Allocation,
    AllocationState,
    FiveTuple,
    Relay,
    RelayProtocol,
)
from switchboard.traversal.auth import (
    SUPPORTED_ALGORITHMS_VALUE,
    AuthError,
    AuthFailure,
    AuthResult,
)
from switchboard.traversal.relays import NoCapacityError, RelayBinder
from switchboard.traversal.stun import (
    CHANNEL_MAX_RFC5766,
    CHANNEL_MIN,
    Address,
    AddressFamily,
    Attribute,
    AttributeType,
    ErrorCode,
    Message,
    MessageClass,
    Method,
    StunError,
    TransportProtocol,
    add_fingerprint,
    add_integrity,
    decode_address,
    decode_channel_number,
    decode_family,
    decode_requested_transport,
    decode_u32,
    encode_address,
    encode_error_code,
    encode_u32,
    encode_unknown_attributes,
)

if TYPE_CHECKING:
    from switchboard.traversal.transports import StreamConnection
    from switchboard.traversal.turn import TurnServer

log = logging.getLogger("switchboard.traversal.requests")

Send = Callable[[bytes], None]

_KNOWN_TYPES = frozenset(int(t) for t in AttributeType)
_TURN_METHODS = frozenset(
    {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}
)
# Linux socket options for DONT-FRAGMENT (IP_MTU_DISCOVER = IP_PMTUDISC_DO).
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_SUPPORTS_DONT_FRAGMENT = sys.platform.startswith("linux")


class RequestError(Exception):
    """A request answered with an error response."""

    def __init__(self, code: ErrorCode, *extra: Attribute, detail: str = "") -> None:
        super().__init__(detail or code.reason)
        self.code = code
        self.extra = extra


class RequestHandler:
    """Answers requests and indications on behalf of a TurnServer."""

    def __init__(self, server: TurnServer) -> None:
        self.server = server
        self.settings = server.settings
        self.relays = RelayBinder(
            server.pool,
            server.clock,
            self.settings.relay_host,
            self.settings.relay_host_v6,
        )

    # Responses.
    def _respond(
        self,
        send: Send,
        request: Message,
        attributes: Iterable[Attribute],
        auth: AuthResult | None,
        message_class: MessageClass = MessageClass.SUCCESS,
    ) -> bytes:
        attrs = tuple(attributes)
        if self.settings.software:
            software = self.settings.software.encode()
            attrs += (Attribute(AttributeType.SOFTWARE, software),)
        response = Message(request.method, message_class, request.transaction_id, attrs)
        if auth is not None:
            response = add_integrity(response, auth.key, sha256=auth.sha256)
        data = bytes(add_fingerprint(response))
        send(data)
        return data

    def _error(
        self,
        send: Send,
        request: Message,
        code: ErrorCode,
        auth: AuthResult | None,
        extra: Iterable[Attribute] = (),
    ) -> None:
        error = Attribute(
            AttributeType.ERROR_CODE, encode_error_code(code, code.reason)
        )
        self._respond(send, request, (error, *extra), auth, MessageClass.ERROR)

    def _challenge(self, code: ErrorCode, client_host: str) -> tuple[Attribute, ...]:
        nonce = self.server.auth.new_nonce(client_host)
        attrs = [
            Attribute(AttributeType.REALM, self.settings.realm.encode()),
            Attribute(AttributeType.NONCE, nonce.encode()),
        ]
        if self.server.auth.advertises_password_algorithms:
            attrs.append(
                Attribute(AttributeType.PASSWORD_ALGORITHMS, SUPPORTED_ALGORITHMS_VALUE)
            )
        return tuple(attrs)

    # Dispatch.
    def request(
        self,
        request: Message,
        five: FiveTuple,
        send: Send,
        stream: bool,
        connection: StreamConnection | None,
    ) -> None:
        """Answer one request."""
        if request.method == Method.BINDING:
            self._binding(request, five, send)
            return
        if request.method not in _TURN_METHODS:
            self._error(send, request, ErrorCode.BAD_REQUEST, None)
            return

        # RFC 8656 §5: every TURN request carries long-term credentials.
        try:
            auth = self.server.auth.authenticate(request, five.client[0])
        except AuthError as exc:
            self._auth_failed(request, five, send, exc)
            return
        unknown = _unknown_required(request)
        if unknown:
            value = encode_unknown_attributes(unknown)
            extra = Attribute(AttributeType.UNKNOWN_ATTRIBUTES, value)
            self._error(send, request, ErrorCode.UNKNOWN_ATTRIBUTE, auth, (extra,))
            return

        try:
            if request.method == Method.ALLOCATE:
                self._allocate(request, five, send, stream, connection, auth)
            elif request.method == Method.REFRESH:
                self._refresh(request, five, send, auth)
            elif request.method == Method.CREATE_PERMISSION:
                self._create_permission(request, five, send, auth)
            else:
                self._channel_bind(request, five, send, auth)
        except RequestError as exc:
            name = Method(request.method).name
            log.debug("%s %s -> %d %s", five, name, exc.code, exc)
            self._error(send, request, exc.code, auth, exc.extra)
        except StunError as exc:
            log.debug("%s bad attribute: %s", five, exc)
            self._error(send, request, ErrorCode.BAD_REQUEST, auth)

    def _auth_failed(
        self, request: Message, five: FiveTuple, send: Send, exc: AuthError
    ) -> None:
        self.server.metrics.auth_failures.labels(exc.failure.value).inc()
        if exc.failure is not AuthFailure.MISSING:
            log.warning("%s authentication failed: %s", five, exc.detail)
        code = exc.failure.code
        if code is ErrorCode.BAD_REQUEST:
            self._error(send, request, code, None)
            return
        # Challenges are rate limited per source IP so that the server is
        # not a cheap reflector.
        if not self.server.unauthenticated.allow(five.client[0]):
            self.server.metrics.dropped_packets.labels("challenge_rate").inc()
            return
        self._error(send, request, code, None, self._challenge(code, five.client[0]))

    def indication(self, indication: Message, five: FiveTuple) -> None:
        """Handle an indication; only Send is meaningful from a client."""
        if indication.method != Method.SEND:
            return
        allocation = self.server.allocations.get(five)
        if allocation is None or not allocation.active:
            return

        # RFC 8656 §11.2: needs XOR-PEER-ADDRESS and DATA, else dropped.
        raw_peer = indication.get(AttributeType.XOR_PEER_ADDRESS)
        data = indication.get(AttributeType.DATA)
        if raw_peer is None or data is None:
            return
        peer = decode_address(raw_peer, indication.transaction_id)
        allocation.to_peer(peer.family, (peer.host, peer.port), data)

    # RFC 8489 §6.3.1 and §14.3: Binding returns the reflexive address.
    def _binding(self, request: Message, five: FiveTuple, send: Send) -> None:
        unknown = _unknown_required(request)
        if unknown:
            value = encode_unknown_attributes(unknown)
            extra = Attribute(AttributeType.UNKNOWN_ATTRIBUTES, value)
            self._error(send, request, ErrorCode.UNKNOWN_ATTRIBUTE, None, (extra,))
            return
        mapped = Address(five.client[0], five.client[1])
        value = encode_address(mapped, request.transaction_id)
        self._respond(
            send, request, (Attribute(AttributeType.XOR_MAPPED_ADDRESS, value),), None
        )

    # RFC 8656 §7.2: receiving an Allocate request.
    def _allocate(
        self,
        request: Message,
        five: FiveTuple,
        send: Send,
        stream: bool,
        connection: StreamConnection | None,
        auth: AuthResult,
    ) -> None:
        server = self.server
        settings = self.settings

        # An existing allocation: retransmission or mismatch.
        existing = server.allocations.get(five)
        if existing is not None:
            if existing.state is AllocationState.ALLOCATING:
                return
            if existing.active:
                if existing.allocate_transaction == request.transaction_id:
                    send(existing.allocate_response)
                    return
                raise RequestError(ErrorCode.ALLOCATION_MISMATCH)
            server.delete(existing, AllocationState.EXPIRED)

        # Transport and the attributes that may not be combined.
        raw_transport = request.get(AttributeType.REQUESTED_TRANSPORT)
        if raw_transport is None:
            raise RequestError(
                ErrorCode.BAD_REQUEST, detail="REQUESTED-TRANSPORT absent"
            )
        if decode_requested_transport(raw_transport) != TransportProtocol.UDP:
            raise RequestError(ErrorCode.UNSUPPORTED_TRANSPORT)
        dont_fragment = request.get(AttributeType.DONT_FRAGMENT) is not None
        if dont_fragment and not _SUPPORTS_DONT_FRAGMENT:
            value = encode_unknown_attributes((AttributeType.DONT_FRAGMENT,))
            raise RequestError(
                ErrorCode.UNKNOWN_ATTRIBUTE,
                Attribute(AttributeType.UNKNOWN_ATTRIBUTES, value),
            )
        token = request.get(AttributeType.RESERVATION_TOKEN)
        raw_even = request.get(AttributeType.EVEN_PORT)
        raw_requested = request.get(AttributeType.REQUESTED_ADDRESS_FAMILY)
        raw_additional = request.get(AttributeType.ADDITIONAL_ADDRESS_FAMILY)
        if token is not None and (
            raw_even is not None
            or raw_requested is not None
            or raw_additional is not None
        ):
            raise RequestError(
                ErrorCode.BAD_REQUEST,
                detail="RESERVATION-TOKEN with EVEN-PORT or a family",
            )
        if raw_requested is not None and raw_additional is not None:
            raise RequestError(
                ErrorCode.BAD_REQUEST,
                detail="REQUESTED- and ADDITIONAL-ADDRESS-FAMILY together",
            )

        # RFC 8656 §7.2 and RFC 6156: which families to relay.
        families = [AddressFamily.IPV4]
        address_error: Attribute | None = None
        if raw_requested is not None:
            families = [decode_family(raw_requested)]
        if raw_additional is not None:
            if decode_family(raw_additional) != AddressFamily.IPV6:
                raise RequestError(
                    ErrorCode.BAD_REQUEST,
                    detail="ADDITIONAL-ADDRESS-FAMILY is not IPv6",
                )
            families = [AddressFamily.IPV4, AddressFamily.IPV6]
        if AddressFamily.IPV6 in families and not settings.relay_host_v6:
            if len(families) == 1:
                raise RequestError(ErrorCode.ADDRESS_FAMILY_NOT_SUPPORTED)
            families = [AddressFamily.IPV4]
            code = ErrorCode.ADDRESS_FAMILY_NOT_SUPPORTED
            address_error = Attribute(
                AttributeType.ADDRESS_ERROR_CODE,
                encode_error_code(code, code.reason, AddressFamily.IPV6),
            )
        if AddressFamily.IPV4 in families and not settings.relay_host:
            raise RequestError(ErrorCode.ADDRESS_FAMILY_NOT_SUPPORTED)

        # Quotas, per user and in total.
        user = credentials.user_of(auth.username)
        if (
            len(server.allocations) >= settings.max_allocations_total
            or server.count_for_user(user) >= settings.max_allocations_per_user
        ):
            log.warning("%s allocation quota reached for user=%s", five, user)
            raise RequestError(ErrorCode.ALLOCATION_QUOTA_REACHED)

        # Relay sockets, honouring reservations and EVEN-PORT.
        try:
            sockets, new_token = self.relays.bind(families, token, raw_even)
        except NoCapacityError as exc:
            log.warning("%s relay refused: %s", five, exc)
            raise RequestError(ErrorCode.INSUFFICIENT_CAPACITY) from exc
        if dont_fragment:
            for sock in sockets.values():
                if sock.family == socket.AF_INET:
                    sock.setsockopt(
                        socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO
                    )

        # The allocation exists from here on, ALLOCATING until relays open.
        allocation = Allocation(
            five,
            auth.username,
            user,
            send_to_client=send,
            stream=stream,
            metrics=server.metrics,
            clock=server.clock,
            bandwidth_bytes_per_s=settings.bandwidth_bytes_per_s,
        )
        allocation.allocate_transaction = request.transaction_id
        allocation.expires_at = server.clock() + self._lifetime(request)
        server.register(allocation)
        if connection is not None:
            connection.allocation = allocation
        extra: list[Attribute] = []
        if new_token is not None:
            extra.append(Attribute(AttributeType.RESERVATION_TOKEN, new_token))
        if address_error is not None:
            extra.append(address_error)
        server.spawn(self._open_relays(allocation, sockets, request, send, auth, extra))

    async def _open_relays(
        self,
        allocation: Allocation,
        sockets: dict[AddressFamily, socket.socket],
        request: Message,
        send: Send,
        auth: AuthResult,
        extra: list[Attribute],
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            for family, sock in sorted(sockets.items()):
                port = sock.getsockname()[1]
                relay = Relay(Address(self.relays.host(family), port))
                allocation.relays[family] = relay
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(RelayProtocol, allocation, family), sock=sock
                )
                relay.transport = transport
        except OSError:
            log.exception("%s could not open relay", allocation.label)
            for sock in sockets.values():
                sock.close()
            self.server.delete(allocation, AllocationState.DELETED)
            self._error(send, request, ErrorCode.SERVER_ERROR, auth)
            return
        if allocation.state is not AllocationState.ALLOCATING:
            allocation.close_relays(self.server.pool)
            return

        # Active: count it, answer, and keep the answer for retransmissions.
        allocation.transition(AllocationState.ACTIVE)
        self.server.metrics.allocations.inc()
        self.server.metrics.allocations_active.inc()
        attrs = [
            Attribute(
                AttributeType.XOR_RELAYED_ADDRESS,
                encode_address(relay.address, request.transaction_id),
            )
            for _, relay in sorted(allocation.relays.items())
        ]
        attrs.append(
            Attribute(AttributeType.LIFETIME, encode_u32(allocation.lifetime_left()))
        )
        client = Address(allocation.five.client[0], allocation.five.client[1])
        attrs.append(
            Attribute(
                AttributeType.XOR_MAPPED_ADDRESS,
                encode_address(client, request.transaction_id),
            )
        )
        attrs.extend(extra)
        relays = ", ".join(
            f"{r.address.host}:{r.address.port}" for r in allocation.relays.values()
        )
        log.info(
            "%s relay %s lifetime %ds",
            allocation.label,
            relays,
            allocation.lifetime_left(),
        )
        allocation.allocate_response = self._respond(send, request, attrs, auth)

    def _lifetime(self, request: Message) -> int:
        # RFC 8656 §7.2 and §7.3: min(requested, max), but at least default.
        raw = request.get(AttributeType.LIFETIME)
        if raw is None:
            return self.settings.default_lifetime_s
        requested = min(decode_u32(raw), self.settings.max_lifetime_s)
        return max(requested, self.settings.default_lifetime_s)

    def _owned(self, five: FiveTuple, auth: AuthResult) -> Allocation:
        allocation = self.server.allocations.get(five)
        if allocation is None or not allocation.active:
            raise RequestError(ErrorCode.ALLOCATION_MISMATCH)
        if allocation.username != auth.username:
            raise RequestError(ErrorCode.WRONG_CREDENTIALS)
        return allocation

    # RFC 8656 §7.3: receiving a Refresh request.
    def _refresh(
        self, request: Message, five: FiveTuple, send: Send, auth: AuthResult
    ) -> None:
        allocation = self._owned(five, auth)
        raw_family = request.get(AttributeType.REQUESTED_ADDRESS_FAMILY)
        family = decode_family(raw_family) if raw_family is not None else None
        if family is not None and family not in allocation.relays:
            raise RequestError(ErrorCode.PEER_ADDRESS_FAMILY_MISMATCH)

        raw = request.get(AttributeType.LIFETIME)
        if raw is not None and decode_u32(raw) == 0:
            if family is not None and len(allocation.relays) > 1:
                relay = allocation.relays[family]
                allocation.close_relay(family, relay, self.server.pool)
                log.info("%s released %s relay", allocation.label, family.name)
                lifetime = allocation.lifetime_left()
            else:
                self.server.delete(allocation, AllocationState.DELETED)
                lifetime = 0
        else:
            allocation.expires_at = self.server.clock() + self._lifetime(request)
            lifetime = allocation.lifetime_left()
            log.debug("%s refreshed for %ds", allocation.label, lifetime)
        attrs = (Attribute(AttributeType.LIFETIME, encode_u32(lifetime)),)
        self._respond(send, request, attrs, auth)

    def _checked_peer(self, allocation: Allocation, peer: Address) -> None:
        # RFC 6156 §6.1: a peer of a family the allocation has no relay for.
        if peer.family not in allocation.relays:
            raise RequestError(ErrorCode.PEER_ADDRESS_FAMILY_MISMATCH)
        verdict = self.server.guard.check(peer.host)
        reason = verdict.reason
        if verdict.allowed and self.server.is_service_port(peer.port):
            # Even an allow-listed network never reaches our own listeners.
            address = canonical(ipaddress.ip_address(peer.host))
            own = (self.settings.listen_host, self.settings.relay_host)
            if address.is_loopback or address.is_unspecified or str(address) in own:
                reason = "server's own service port"
        if reason:
            self.server.metrics.rejected_peers.inc()
            log.warning(
                "%s refused peer %s:%d: %s",
                allocation.label,
                peer.host,
                peer.port,
                reason,
            )
            raise RequestError(ErrorCode.FORBIDDEN)

    # RFC 8656 §9.2: receiving a CreatePermission request.
    def _create_permission(
        self, request: Message, five: FiveTuple, send: Send, auth: AuthResult
    ) -> None:
        allocation = self._owned(five, auth)
        peers = [
            decode_address(a.value, request.transaction_id)
            for a in request.attributes
            if a.type == AttributeType.XOR_PEER_ADDRESS
        ]
        if not peers:
            raise RequestError(ErrorCode.BAD_REQUEST, detail="no XOR-PEER-ADDRESS")
        for peer in peers:
            self._checked_peer(allocation, peer)
        for peer in peers:
            allocation.permit(peer.host)
            log.debug("%s permission for %s", allocation.label, peer.host)
        self._respond(send, request, (), auth)

    # RFC 8656 §11.2: receiving a ChannelBind request.
    def _channel_bind(
        self, request: Message, five: FiveTuple, send: Send, auth: AuthResult
    ) -> None:
        allocation = self._owned(five, auth)
        raw_channel = request.get(AttributeType.CHANNEL_NUMBER)
        raw_peer = request.get(AttributeType.XOR_PEER_ADDRESS)
        if raw_channel is None or raw_peer is None:
            raise RequestError(
                ErrorCode.BAD_REQUEST,
                detail="CHANNEL-NUMBER or XOR-PEER-ADDRESS absent",
            )
        channel = decode_channel_number(raw_channel)
        # RFC 8656 §12 narrowed channels to 0x4000-0x4FFF, but RFC 5766
        # clients (coturn's among them) still pick up to 0x7FFE; both work.
        if not CHANNEL_MIN <= channel <= CHANNEL_MAX_RFC5766:
            raise RequestError(
                ErrorCode.BAD_REQUEST, detail="channel number out of range"
            )
        peer = decode_address(raw_peer, request.transaction_id)
        self._checked_peer(allocation, peer)
        if allocation.channel_conflict(channel, (peer.host, peer.port)):
            raise RequestError(
                ErrorCode.BAD_REQUEST, detail="channel or peer already bound elsewhere"
            )
        allocation.bind_channel(channel, (peer.host, peer.port))
        log.debug(
            "%s channel 0x%04x -> %s:%d",
            allocation.label,
            channel,
            peer.host,
            peer.port,
        )
        self._respond(send, request, (), auth)


def _unknown_required(message: Message) -> tuple[int, ...]:
    # RFC 8489 §5: types 0x0000-0x7FFF must be understood.
    return tuple(
        a.type
        for a in message.attributes
        if a.type < 0x8000 and a.type not in _KNOWN_TYPES
    )
