"""Client-facing transports: UDP datagrams and TCP/TLS byte streams."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from switchboard.traversal.channeldata import frame_length
from switchboard.traversal.stun import (
    StunError,
)

if TYPE_CHECKING:
    from switchboard.traversal.allocation import Allocation, FiveTuple

log = logging.getLogger("switchboard.traversal.transports")

# A stream that buffers more than this without a whole frame is cut off.
MAX_STREAM_BUFFER = 65536 + 20 + 4


class PacketSink:
    """What a transport hands packets to (the TURN server)."""

    def on_datagram(self, listener: UdpListener, data: bytes, addr: Any) -> None:
        """One UDP datagram from a client."""
        raise NotImplementedError

    def on_frame(self, connection: StreamConnection, frame: bytes) -> None:
        """One whole STUN or ChannelData frame from a stream client."""
        raise NotImplementedError

    def on_stream_closed(self, connection: StreamConnection) -> None:
        """A stream client went away."""
        raise NotImplementedError


class UdpListener(asyncio.DatagramProtocol):
    """The UDP listening socket."""

    def __init__(self, sink: PacketSink) -> None:
        self.sink = sink
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport and the address it is bound to."""
        self.transport = cast(asyncio.DatagramTransport, transport)
        sockname = transport.get_extra_info("sockname")
        self.local = (sockname[0], sockname[1])

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Pass the datagram on."""
        self.sink.on_datagram(self, data, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors from clients are only logged."""
        log.debug("udp listener error: %s", exc)

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send one datagram to a client."""
        if self.transport is not None:
            self.transport.sendto(data, addr)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS client connection, split into STUN/ChannelData frames."""

    def __init__(self, sink: PacketSink, kind: str) -> None:
        self.sink = sink
        self.kind = kind
        self.transport: asyncio.Transport | None = None
        self.five: FiveTuple | None = None
        self.allocation: Allocation | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Record the connection's 5-tuple."""
        from switchboard.traversal.allocation import FiveTuple

        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.five = FiveTuple(self.kind, (peer[0], peer[1]), (local[0], local[1]))
        log.debug("%s connected", self.five)

    # RFC 8656 §12.5: over streams, frames follow each other, ChannelData
    # padded to four bytes; anything else ends the connection.
    def data_received(self, data: bytes) -> None:
        """Split the stream into frames and hand each on."""
        buffer = self._buffer
        buffer += data
        offset = 0
        while True:
            try:
                size = frame_length(bytes(buffer[offset : offset + 4]))
            except StunError as exc:
                log.warning("%s closing: %s", self.five, exc)
                self.close()
                return
            if size is None or offset + size > len(buffer):
                break
            self.sink.on_frame(self, bytes(buffer[offset : offset + size]))
            offset += size
            if self.transport is None or self.transport.is_closing():
                return
        del buffer[:offset]
        if len(buffer) > MAX_STREAM_BUFFER:
            log.warning("%s closing: oversized frame", self.five)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the sink, which deletes any allocation of the connection."""
        self.sink.on_stream_closed(self)
        self.transport = None

    def send(self, data: bytes) -> None:
        """Write one frame to the client."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()
