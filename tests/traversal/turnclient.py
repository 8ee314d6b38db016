"""A small TURN client and UDP peer for the server tests, built on the codec."""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any, cast

from switchboard.traversal.channeldata import (
    ChannelData,
    frame_length,
    is_channel_data,
    parse_channel_data,
)
from switchboard.traversal.credentials import TurnCredentials, long_term_key
from switchboard.traversal.stun import (
    Address,
    Attribute,
    AttributeType,
    Message,
    MessageClass,
    Method,
    PasswordAlgorithm,
    add_fingerprint,
    add_integrity,
    decode_address,
    decode_error_code,
    decode_text,
    encode_address,
    encode_channel_number,
    encode_requested_transport,
    encode_u32,
    parse_message,
)

TIMEOUT = 2.0


def attr(kind: int, value: bytes) -> Attribute:
    """Shorthand for an attribute."""
    return Attribute(kind, value)


def error_of(message: Message) -> int | None:
    """The error code of a response, or None for success."""
    raw = message.get(AttributeType.ERROR_CODE)
    return None if raw is None else decode_error_code(raw)[0]


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


class _Stream(asyncio.Protocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
        self.buffer = b""
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            size = frame_length(self.buffer[:4])
            if size is None or size > len(self.buffer):
                return
            self.queue.put_nowait((self.buffer[:size], None))
            self.buffer = self.buffer[size:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


@dataclass
class TurnClient:
    """A TURN client over UDP, TCP or TLS that keeps its nonce and realm."""

    transport: asyncio.BaseTransport
    protocol: _Datagrams | _Stream
    server: tuple[str, int]
    stream: bool
    credentials: TurnCredentials | None = None
    realm: str = ""
    nonce: str = ""
    sha256: bool = False
    others: list[bytes] = field(default_factory=list)

    @classmethod
    async def connect(
        cls,
        kind: str,
        server: tuple[str, int],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> TurnClient:
        """Open a client of kind "udp", "tcp" or "tls"."""
        loop = asyncio.get_running_loop()
        if kind == "udp":
            datagrams, udp = await loop.create_datagram_endpoint(
                _Datagrams, remote_addr=server
            )
            return cls(datagrams, udp, server, False)
        tls = kind == "tls"
        transport, stream = await loop.create_connection(
            _Stream,
            server[0],
            server[1],
            ssl=ssl_context if tls else None,
            server_hostname=server_hostname if tls else None,
        )
        return cls(transport, stream, server, True)

    def close(self) -> None:
        """Close the client transport."""
        self.transport.close()

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        if self.stream:
            cast(asyncio.WriteTransport, self.transport).write(data)
        else:
            cast(asyncio.DatagramTransport, self.transport).sendto(data)

    @property
    def local(self) -> tuple[str, int]:
        """The client's own address."""
        name = self.transport.get_extra_info("sockname")
        return (name[0], name[1])

    async def receive(self, timeout: float = TIMEOUT) -> bytes:
        """The next frame from the server."""
        data, _ = await asyncio.wait_for(self.protocol.queue.get(), timeout)
        return data

    async def transact(self, message: Message, timeout: float = TIMEOUT) -> Message:
        """Send a request and wait for the response with its transaction id."""
        self.send_raw(bytes(message))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await self.receive(max(0.01, deadline - loop.time()))
            if not is_channel_data(data) and data[0] < 0x40:
                response = parse_message(data)
                if response.transaction_id == message.transaction_id:
                    return response
            self.others.append(data)

    def signed(
        self,
        method: Method,
        *attributes: Attribute,
        peers: tuple[tuple[str, int], ...] = (),
    ) -> Message:
        """A request with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY."""
        tid = os.urandom(12)
        peer_attrs = [
            attr(AttributeType.XOR_PEER_ADDRESS, encode_address(Address(*p), tid))
            for p in peers
        ]
        assert self.credentials is not None
        credentials = self.credentials
        algorithm = PasswordAlgorithm.MD5
        extra: list[Attribute] = []
        if self.sha256:
            algorithm = PasswordAlgorithm.SHA256
            extra = [
                attr(
                    AttributeType.PASSWORD_ALGORITHMS,
                    b"\x00\x01\x00\x00\x00\x02\x00\x00",
                ),
                attr(AttributeType.PASSWORD_ALGORITHM, b"\x00\x02\x00\x00"),
            ]
        message = Message(
            method,
            MessageClass.REQUEST,
            tid,
            (
                *attributes,
                *peer_attrs,
                attr(AttributeType.USERNAME, credentials.username.encode()),
                attr(AttributeType.REALM, self.realm.encode()),
                attr(AttributeType.NONCE, self.nonce.encode()),
                *extra,
            ),
        )
        key = self.key(algorithm)
        return add_fingerprint(add_integrity(message, key, sha256=self.sha256))

    def key(self, algorithm: PasswordAlgorithm = PasswordAlgorithm.MD5) -> bytes:
        """The long-term key of the client's credentials."""
        assert self.credentials is not None
        return long_term_key(
            self.credentials.username, self.realm, self.credentials.password, algorithm
        )

    async def challenge(self, method: Method = Method.ALLOCATE) -> Message:
        """Send an unauthenticated request and learn the realm and nonce."""
        request = Message(
            method,
            MessageClass.REQUEST,
            os.urandom(12),
            (attr(AttributeType.REQUESTED_TRANSPORT, encode_requested_transport(17)),),
        )
        response = await self.transact(request)
        self.learn(response)
        return response

    def learn(self, response: Message) -> None:
        """Keep the realm and nonce of a 401 or 438 answer."""
        realm = response.get(AttributeType.REALM)
        nonce = response.get(AttributeType.NONCE)
        if realm is not None:
            self.realm = decode_text(realm)
        if nonce is not None:
            self.nonce = decode_text(nonce)

    async def allocate(self, *attributes: Attribute) -> Message:
        """Authenticate if needed and send an Allocate request."""
        if not self.nonce:
            await self.challenge()
        request = self.signed(
            Method.ALLOCATE,
            attr(AttributeType.REQUESTED_TRANSPORT, encode_requested_transport(17)),
            *attributes,
        )
        return await self.transact(request)

    async def call(
        self,
        method: Method,
        *attributes: Attribute,
        peers: tuple[tuple[str, int], ...] = (),
    ) -> Message:
        """Send a signed request and return the response."""
        return await self.transact(self.signed(method, *attributes, peers=peers))

    async def refresh(self, lifetime: int) -> Message:
        """Send a Refresh with the given LIFETIME."""
        return await self.call(
            Method.REFRESH, attr(AttributeType.LIFETIME, encode_u32(lifetime))
        )

    async def permit(self, *peers: tuple[str, int]) -> Message:
        """CreatePermission for peers."""
        return await self.call(Method.CREATE_PERMISSION, peers=peers)

    async def bind(self, channel: int, peer: tuple[str, int]) -> Message:
        """ChannelBind a channel to a peer."""
        return await self.call(
            Method.CHANNEL_BIND,
            attr(AttributeType.CHANNEL_NUMBER, encode_channel_number(channel)),
            peers=(peer,),
        )

    def send_indication(self, peer: tuple[str, int], data: bytes) -> None:
        """Send data to a peer with a Send indication."""
        tid = os.urandom(12)
        message = Message(
            Method.SEND,
            MessageClass.INDICATION,
            tid,
            (
                attr(
                    AttributeType.XOR_PEER_ADDRESS, encode_address(Address(*peer), tid)
                ),
                attr(AttributeType.DATA, data),
            ),
        )
        self.send_raw(bytes(message))

    def send_channel(self, channel: int, data: bytes) -> None:
        """Send ChannelData (padded on streams)."""
        frame = ChannelData(channel, data)
        self.send_raw(frame.padded() if self.stream else bytes(frame))

    async def next_data(
        self, timeout: float = TIMEOUT
    ) -> tuple[str, int | tuple[str, int], bytes]:
        """The next relayed payload: ("channel", number, data) or ("data", peer,
        data)."""
        while True:
            data = self.others.pop(0) if self.others else await self.receive(timeout)
            if is_channel_data(data):
                channel = parse_channel_data(data)
                return ("channel", channel.channel, channel.data)
            message = parse_message(data)
            if message.method == Method.DATA:
                raw_peer = message.get(AttributeType.XOR_PEER_ADDRESS)
                assert raw_peer is not None
                peer = decode_address(raw_peer, message.transaction_id)
                payload = message.get(AttributeType.DATA)
                assert payload is not None
                return ("data", (peer.host, peer.port), payload)


@dataclass
class Peer:
    """A plain UDP socket standing in for a remote peer."""

    transport: asyncio.DatagramTransport
    protocol: _Datagrams

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> Peer:
        """Bind a peer on a free port."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            _Datagrams, local_addr=(host, 0)
        )
        return cls(transport, protocol)

    @property
    def address(self) -> tuple[str, int]:
        """The peer's address."""
        name = self.transport.get_extra_info("sockname")
        return (name[0], name[1])

    async def receive(self, timeout: float = TIMEOUT) -> tuple[bytes, tuple[str, int]]:
        """The next datagram and who sent it."""
        data, addr = await asyncio.wait_for(self.protocol.queue.get(), timeout)
        return data, (addr[0], addr[1])

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        """Send a datagram."""
        self.transport.sendto(data, to)

    def close(self) -> None:
        """Close the socket."""
        self.transport.close()


def relayed(response: Message) -> list[tuple[str, int]]:
    """Every XOR-RELAYED-ADDRESS of an Allocate response."""
    return [
        (a.host, a.port)
        for a in (
            decode_address(x.value, response.transaction_id)
            for x in response.attributes
            if x.type == AttributeType.XOR_RELAYED_ADDRESS
        )
    ]


def lifetime(response: Message) -> int:
    """The LIFETIME of a response."""
    raw = response.get(AttributeType.LIFETIME)
    assert raw is not None
    value: int = struct.unpack("!I", raw)[0]
    return value


def parse_turn_url(url: str) -> tuple[str, str, int]:
    """The kind ("udp", "tcp" or "tls"), host and port of a turn: or turns: URL."""
    scheme, _, rest = url.partition(":")
    where, _, query = rest.partition("?")
    host, _, port = where.rpartition(":")
    transport = query.removeprefix("transport=") if query else "udp"
    kind = "tls" if scheme == "turns" else transport
    return kind, host.strip("[]"), int(port)
