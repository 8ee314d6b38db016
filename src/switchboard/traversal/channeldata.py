"""TURN ChannelData framing (RFC 8656 §12) and stream frame splitting."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from switchboard.traversal.stun import HEADER_LENGTH, StunError


# RFC 8656 §12.4: ChannelData is channel number, length, then application data.
@dataclass(frozen=True, slots=True)
class ChannelData:
    """A ChannelData message; ``bytes()`` gives the unpadded (UDP) form."""

    channel: int
    data: bytes

    def __bytes__(self) -> bytes:
        return struct.pack("!HH", self.channel, len(self.data)) + self.data

    def padded(self) -> bytes:
        """The stream (TCP/TLS) form, padded to a multiple of four bytes."""
        return bytes(self) + bytes(-len(self.data) % 4)


def is_channel_data(data: bytes) -> bool:
    """Whether data starts like ChannelData (first two bits 01)."""
    return len(data) >= 4 and 0x40 <= data[0] <= 0x7F


def parse_channel_data(data: bytes) -> ChannelData:
    """Parse ChannelData; trailing padding (up to three bytes) is allowed."""
    if len(data) < 4:
        raise StunError("ChannelData header truncated")
    channel, length = struct.unpack_from("!HH", data)
    if not 0x4000 <= channel <= 0x7FFF:
        raise StunError(f"ChannelData channel number 0x{channel:04x} out of range")
    if 4 + length > len(data):
        raise StunError("ChannelData length overruns data")
    if len(data) - 4 - length > 3:
        raise StunError("ChannelData has trailing bytes beyond padding")
    return ChannelData(channel, bytes(data[4 : 4 + length]))


def frame_length(buffer: bytes) -> int | None:
    """Length of the next STUN or ChannelData frame in a stream buffer.

    Returns None when more bytes are needed. Raises StunError when the
    buffer starts with something that is neither (RFC 8656 §12.5).
    """
    if len(buffer) < 4:
        return None
    first = buffer[0]
    length = (buffer[2] << 8) | buffer[3]
    if first < 0x40:
        if length % 4:
            raise StunError("STUN message length not a multiple of 4")
        return HEADER_LENGTH + length
    if first < 0x80:
        return 4 + length + (-length % 4)
    raise StunError("stream data is neither STUN nor ChannelData")
