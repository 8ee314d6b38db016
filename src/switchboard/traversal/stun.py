"""STUN (RFC 8489) and TURN (RFC 8656) message codec; ChannelData is in channeldata.

Everything here is pure: ``parse_message(data)`` builds a :class:`Message` and
``bytes(message)`` gives the wire form back, byte for byte, padding included.
Bad wire data raises :class:`StunError` and nothing else.
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import hmac
import ipaddress
import struct
from dataclasses import dataclass, replace

MAGIC_COOKIE = 0x2112A442
MAGIC_COOKIE_BYTES = struct.pack("!I", MAGIC_COOKIE)
HEADER_LENGTH = 20
FINGERPRINT_XOR = 0x5354554E
MAX_MESSAGE_LENGTH = 65535 + HEADER_LENGTH
CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x4FFF
CHANNEL_MAX_RFC5766 = 0x7FFE
# RFC 8489 §14: longest USERNAME; REALM, NONCE, SOFTWARE and reason phrases.
_MAX_USERNAME = 513
_MAX_TEXT = 763


class StunError(ValueError):
    """Bad STUN or ChannelData wire data; the message names the field."""


class Method(enum.IntEnum):
    """STUN methods (RFC 8489 §18.2, RFC 8656 §17)."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


class MessageClass(enum.IntEnum):
    """STUN message classes (RFC 8489 §5)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class AttributeType(enum.IntEnum):
    """Attribute types this codec knows (RFC 8489 §18.3, RFC 8656 §18)."""

    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    CHANNEL_NUMBER = 0x000C
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    REALM = 0x0014
    NONCE = 0x0015
    XOR_RELAYED_ADDRESS = 0x0016
    REQUESTED_ADDRESS_FAMILY = 0x0017
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    RESERVATION_TOKEN = 0x0022
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    ADDITIONAL_ADDRESS_FAMILY = 0x8000
    ADDRESS_ERROR_CODE = 0x8001
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    ICMP = 0x8004
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A


class ErrorCode(enum.IntEnum):
    """STUN and TURN error codes (RFC 8489 §14.8, RFC 8656 §19, RFC 6156)."""

    TRY_ALTERNATE = 300
    BAD_REQUEST = 400
    UNAUTHENTICATED = 401
    FORBIDDEN = 403
    UNKNOWN_ATTRIBUTE = 420
    ALLOCATION_MISMATCH = 437
    STALE_NONCE = 438
    ADDRESS_FAMILY_NOT_SUPPORTED = 440
    WRONG_CREDENTIALS = 441
    UNSUPPORTED_TRANSPORT = 442
    PEER_ADDRESS_FAMILY_MISMATCH = 443
    ALLOCATION_QUOTA_REACHED = 486
    SERVER_ERROR = 500
    INSUFFICIENT_CAPACITY = 508

    @property
    def reason(self) -> str:
        """The recommended reason phrase for this code."""
        return _REASONS[self]


_REASONS = {
    ErrorCode.TRY_ALTERNATE: "Try Alternate",
    ErrorCode.BAD_REQUEST: "Bad Request",
    ErrorCode.UNAUTHENTICATED: "Unauthenticated",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNKNOWN_ATTRIBUTE: "Unknown Attribute",
    ErrorCode.ALLOCATION_MISMATCH: "Allocation Mismatch",
    ErrorCode.STALE_NONCE: "Stale Nonce",
    ErrorCode.ADDRESS_FAMILY_NOT_SUPPORTED: "Address Family not Supported",
    ErrorCode.WRONG_CREDENTIALS: "Wrong Credentials",
    ErrorCode.UNSUPPORTED_TRANSPORT: "Unsupported Transport Protocol",
    ErrorCode.PEER_ADDRESS_FAMILY_MISMATCH: "Peer Address Family Mismatch",
    ErrorCode.ALLOCATION_QUOTA_REACHED: "Allocation Quota Reached",
    ErrorCode.SERVER_ERROR: "Server Error",
    ErrorCode.INSUFFICIENT_CAPACITY: "Insufficient Capacity",
}


class AddressFamily(enum.IntEnum):
    """Address family codes in address attributes (RFC 8489 §14.1)."""

    IPV4 = 0x01
    IPV6 = 0x02


class PasswordAlgorithm(enum.IntEnum):
    """Password algorithms (RFC 8489 §18.5)."""

    MD5 = 0x0001
    SHA256 = 0x0002


class TransportProtocol(enum.IntEnum):
    """REQUESTED-TRANSPORT protocol numbers (RFC 8656 §18.7)."""

    UDP = 17
    TCP = 6


@dataclass(frozen=True, slots=True)
class Address:
    """An IP address and port, the value of every address attribute."""

    host: str
    port: int

    @property
    def family(self) -> AddressFamily:
        """The STUN family code of the host."""
        return AddressFamily.IPV6 if ":" in self.host else AddressFamily.IPV4


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute as on the wire: type, value and the padding seen."""

    type: int
    value: bytes
    padding: bytes = b""

    def __bytes__(self) -> bytes:
        pad = self.padding or bytes(-len(self.value) % 4)
        return struct.pack("!HH", self.type, len(self.value)) + self.value + pad


@dataclass(frozen=True, slots=True)
class Message:
    """A STUN message: method, class, transaction id and ordered attributes."""

    method: int
    message_class: MessageClass
    transaction_id: bytes
    attributes: tuple[Attribute, ...] = ()

    def __bytes__(self) -> bytes:
        body = b"".join(bytes(attribute) for attribute in self.attributes)
        return _header(self, len(body)) + body

    def get(self, attr_type: int) -> bytes | None:
        """The value of the first attribute of this type, if any."""
        for attribute in self.attributes:
            if attribute.type == attr_type:
                return attribute.value
        return None

    def with_attributes(self, *attributes: Attribute) -> Message:
        """A copy with attributes appended."""
        return replace(self, attributes=self.attributes + attributes)


def _header(message: Message, length: int) -> bytes:
    # RFC 8489 §5: the class bits C1 C0 sit between the method bits.
    m = message.method
    c = int(message.message_class)
    msg_type = (
        (m & 0x000F)
        | ((m & 0x0070) << 1)
        | ((m & 0x0F80) << 2)
        | ((c & 1) << 4)
        | ((c & 2) << 7)
    )
    return struct.pack("!HHI", msg_type, length, MAGIC_COOKIE) + message.transaction_id


def is_stun(data: bytes) -> bool:
    """Whether data looks like a STUN message (leading bits and magic cookie)."""
    return (
        len(data) >= HEADER_LENGTH
        and data[0] < 0x40
        and data[4:8] == (MAGIC_COOKIE_BYTES)
    )


# RFC 8489 §5 and §14: header, then TLV attributes padded to four bytes.
def parse_message(data: bytes) -> Message:
    """Parse one whole STUN message, checking lengths, values and FINGERPRINT."""
    if len(data) < HEADER_LENGTH:
        raise StunError("STUN header truncated")
    msg_type, length, cookie = struct.unpack_from("!HHI", data)
    if msg_type & 0xC000:
        raise StunError("STUN message type has leading bits set")
    if cookie != MAGIC_COOKIE:
        raise StunError("STUN magic cookie mismatch")
    if length % 4:
        raise StunError("STUN message length not a multiple of 4")
    if length + HEADER_LENGTH != len(data):
        raise StunError("STUN message length does not match data")
    method = (
        (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    )
    message_class = MessageClass(((msg_type >> 4) & 1) | ((msg_type >> 7) & 2))
    transaction_id = bytes(data[8:20])

    # Attributes in order; nothing may follow FINGERPRINT.
    attributes: list[Attribute] = []
    offset = HEADER_LENGTH
    while offset < len(data):
        if attributes and attributes[-1].type == AttributeType.FINGERPRINT:
            raise StunError("STUN attribute after FINGERPRINT")
        if offset + 4 > len(data):
            raise StunError("STUN attribute header truncated")
        attr_type, attr_length = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + attr_length
        padded_end = end + (-attr_length % 4)
        if padded_end > len(data):
            raise StunError(f"STUN attribute 0x{attr_type:04x} length overruns")
        value = bytes(data[offset + 4 : end])
        _validate(attr_type, value, transaction_id)
        if attr_type == AttributeType.FINGERPRINT:
            _check_fingerprint(data[:offset], value)
        attributes.append(Attribute(attr_type, value, bytes(data[end:padded_end])))
        offset = padded_end
    return Message(method, message_class, transaction_id, tuple(attributes))


def _check_fingerprint(prefix: bytes, value: bytes) -> None:
    # RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e,
    # computed with the header length already covering FINGERPRINT.
    adjusted = prefix[:2] + struct.pack("!H", len(prefix) - HEADER_LENGTH + 8)
    expected = binascii.crc32(adjusted + prefix[4:]) ^ FINGERPRINT_XOR
    if struct.unpack("!I", value)[0] != expected:
        raise StunError("STUN FINGERPRINT mismatch")


def _validate(attr_type: int, value: bytes, transaction_id: bytes) -> None:
    """Decode a known attribute once so that malformed values fail the parse."""
    if attr_type in _ADDRESS_TYPES:
        decode_address(value, transaction_id if attr_type in _XOR_TYPES else None)
    elif attr_type in _FIXED_LENGTHS:
        if len(value) not in _FIXED_LENGTHS[attr_type]:
            name = AttributeType(attr_type).name
            raise StunError(f"STUN {name} has bad length {len(value)}")
    elif attr_type in _TEXT_LIMITS:
        decode_text(value, attr_type)
    elif attr_type in (AttributeType.ERROR_CODE, AttributeType.ADDRESS_ERROR_CODE):
        decode_error_code(value)
    elif attr_type == AttributeType.UNKNOWN_ATTRIBUTES:
        decode_unknown_attributes(value)
    elif (
        attr_type == AttributeType.PASSWORD_ALGORITHMS
        or attr_type == AttributeType.PASSWORD_ALGORITHM
    ):
        decode_password_algorithms(value)
    elif attr_type in (
        AttributeType.REQUESTED_ADDRESS_FAMILY,
        AttributeType.ADDITIONAL_ADDRESS_FAMILY,
    ):
        decode_family(value)


_XOR_TYPES = frozenset(
    {
        AttributeType.XOR_MAPPED_ADDRESS,
        AttributeType.XOR_PEER_ADDRESS,
        AttributeType.XOR_RELAYED_ADDRESS,
    }
)
_ADDRESS_TYPES = _XOR_TYPES | {
    AttributeType.MAPPED_ADDRESS,
    AttributeType.ALTERNATE_SERVER,
}
_FIXED_LENGTHS: dict[int, tuple[int, ...]] = {
    AttributeType.MESSAGE_INTEGRITY: (20,),
    AttributeType.MESSAGE_INTEGRITY_SHA256: (16, 20, 24, 28, 32),
    AttributeType.FINGERPRINT: (4,),
    AttributeType.CHANNEL_NUMBER: (4,),
    AttributeType.LIFETIME: (4,),
    AttributeType.EVEN_PORT: (1,),
    AttributeType.REQUESTED_TRANSPORT: (4,),
    AttributeType.DONT_FRAGMENT: (0,),
    AttributeType.RESERVATION_TOKEN: (8,),
    AttributeType.USERHASH: (32,),
    AttributeType.PRIORITY: (4,),
    AttributeType.USE_CANDIDATE: (0,),
    AttributeType.ICE_CONTROLLED: (8,),
    AttributeType.ICE_CONTROLLING: (8,),
    AttributeType.ICMP: (8,),
}
_TEXT_LIMITS: dict[int, int] = {
    AttributeType.USERNAME: _MAX_USERNAME,
    AttributeType.REALM: _MAX_TEXT,
    AttributeType.NONCE: _MAX_TEXT,
    AttributeType.SOFTWARE: _MAX_TEXT,
    AttributeType.ALTERNATE_DOMAIN: _MAX_TEXT,
}


# RFC 8489 §14.1 and §14.2: family, port and address, XORed for XOR-* types.
def decode_address(value: bytes, transaction_id: bytes | None = None) -> Address:
    """Decode a (XOR-)address value; pass the transaction id for XOR types."""
    if len(value) < 4:
        raise StunError("STUN address attribute truncated")
    family, port = value[1], struct.unpack_from("!H", value, 2)[0]
    raw = value[4:]
    if family == AddressFamily.IPV4:
        if len(raw) != 4:
            raise StunError("STUN IPv4 address has bad length")
    elif family == AddressFamily.IPV6:
        if len(raw) != 16:
            raise StunError("STUN IPv6 address has bad length")
    else:
        raise StunError(f"STUN address family 0x{family:02x} unknown")
    if transaction_id is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = _xor(raw, transaction_id)
    host = str(ipaddress.ip_address(raw))
    return Address(host, port)


def _xor(raw: bytes, transaction_id: bytes) -> bytes:
    mask = (MAGIC_COOKIE_BYTES + transaction_id)[: len(raw)]
    return bytes(a ^ b for a, b in zip(raw, mask, strict=True))


def encode_address(address: Address, transaction_id: bytes | None = None) -> bytes:
    """Encode an address value; pass the transaction id for XOR types."""
    raw = ipaddress.ip_address(address.host).packed
    port = address.port
    if transaction_id is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = _xor(raw, transaction_id)
    return struct.pack("!BBH", 0, address.family, port) + raw


def decode_text(value: bytes, attr_type: int = AttributeType.SOFTWARE) -> str:
    """Decode a UTF-8 text attribute, enforcing its RFC 8489 length limit."""
    limit = _TEXT_LIMITS.get(attr_type, _MAX_TEXT)
    name = _name(attr_type)
    if len(value) > limit:
        raise StunError(f"STUN {name} longer than {limit} bytes")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StunError(f"STUN {name} is not UTF-8") from exc


def _name(attr_type: int) -> str:
    try:
        return AttributeType(attr_type).name
    except ValueError:
        return f"attribute 0x{attr_type:04x}"


# RFC 8489 §14.8: class (hundreds) and number, then a UTF-8 reason phrase.
def decode_error_code(value: bytes) -> tuple[int, str]:
    """Decode ERROR-CODE (or ADDRESS-ERROR-CODE) into (code, reason)."""
    if len(value) < 4:
        raise StunError("STUN ERROR-CODE truncated")
    code_class, number = value[2] & 0x07, value[3]
    if not 3 <= code_class <= 6 or number > 99:
        raise StunError("STUN ERROR-CODE out of range")
    return code_class * 100 + number, decode_text(value[4:])


def encode_error_code(code: int, reason: str, family: int = 0) -> bytes:
    """Encode an ERROR-CODE value; ``family`` fills the ADDRESS-ERROR-CODE byte."""
    return struct.pack("!BBBB", family, 0, code // 100, code % 100) + reason.encode()


def decode_unknown_attributes(value: bytes) -> tuple[int, ...]:
    """Decode UNKNOWN-ATTRIBUTES into a tuple of attribute types."""
    if len(value) % 2:
        raise StunError("STUN UNKNOWN-ATTRIBUTES has odd length")
    return struct.unpack(f"!{len(value) // 2}H", value)


def encode_unknown_attributes(types: tuple[int, ...]) -> bytes:
    """Encode UNKNOWN-ATTRIBUTES."""
    return struct.pack(f"!{len(types)}H", *types)


# RFC 8489 §14.11: algorithm, parameter length, parameters (padded).
def decode_password_algorithms(value: bytes) -> tuple[int, ...]:
    """Decode PASSWORD-ALGORITHMS (or one PASSWORD-ALGORITHM) into ids."""
    algorithms = []
    offset = 0
    while offset < len(value):
        if offset + 4 > len(value):
            raise StunError("STUN PASSWORD-ALGORITHMS truncated")
        algorithm, params = struct.unpack_from("!HH", value, offset)
        offset += 4 + params + (-params % 4)
        if offset > len(value):
            raise StunError("STUN PASSWORD-ALGORITHMS parameters overrun")
        algorithms.append(algorithm)
    return tuple(algorithms)


def encode_password_algorithms(algorithms: tuple[int, ...]) -> bytes:
    """Encode PASSWORD-ALGORITHMS (or PASSWORD-ALGORITHM) without parameters."""
    return b"".join(struct.pack("!HH", algorithm, 0) for algorithm in algorithms)


def decode_u32(value: bytes) -> int:
    """Decode a 32-bit unsigned value (LIFETIME, PRIORITY)."""
    if len(value) != 4:
        raise StunError("STUN 32-bit attribute has bad length")
    result: int = struct.unpack("!I", value)[0]
    return result


def encode_u32(number: int) -> bytes:
    """Encode a 32-bit unsigned value."""
    return struct.pack("!I", number)


# RFC 8656 §18.1: channel number then RFFU.
def decode_channel_number(value: bytes) -> int:
    """Decode CHANNEL-NUMBER."""
    if len(value) != 4:
        raise StunError("STUN CHANNEL-NUMBER has bad length")
    channel: int = struct.unpack_from("!H", value)[0]
    return channel


def encode_channel_number(channel: int) -> bytes:
    """Encode CHANNEL-NUMBER."""
    return struct.pack("!HH", channel, 0)


# RFC 8656 §18.7 (REQUESTED-TRANSPORT), §18.6 (EVEN-PORT), §18.11/§18.13.
def decode_requested_transport(value: bytes) -> int:
    """Decode REQUESTED-TRANSPORT into an IP protocol number."""
    if len(value) != 4:
        raise StunError("STUN REQUESTED-TRANSPORT has bad length")
    return value[0]


def encode_requested_transport(protocol: int) -> bytes:
    """Encode REQUESTED-TRANSPORT."""
    return bytes((protocol, 0, 0, 0))


def decode_even_port(value: bytes) -> bool:
    """Decode EVEN-PORT; True when the R (reserve next port) bit is set."""
    if len(value) != 1:
        raise StunError("STUN EVEN-PORT has bad length")
    return bool(value[0] & 0x80)


def decode_family(value: bytes) -> AddressFamily:
    """Decode REQUESTED- or ADDITIONAL-ADDRESS-FAMILY."""
    if len(value) != 4:
        raise StunError("STUN address family attribute has bad length")
    try:
        return AddressFamily(value[0])
    except ValueError as exc:
        raise StunError(f"STUN address family 0x{value[0]:02x} unknown") from exc


def encode_family(family: AddressFamily) -> bytes:
    """Encode REQUESTED- or ADDITIONAL-ADDRESS-FAMILY."""
    return bytes((family, 0, 0, 0))


# RFC 8489 §14.5 and §14.6: HMAC over the message up to the integrity
# attribute, with the header length covering it.
def _integrity_input(message: Message, index: int, mac_length: int) -> bytes:
    body = b"".join(bytes(a) for a in message.attributes[:index])
    return _header(message, len(body) + 4 + mac_length) + body


def add_integrity(message: Message, key: bytes, *, sha256: bool = False) -> Message:
    """Append MESSAGE-INTEGRITY (HMAC-SHA1) or MESSAGE-INTEGRITY-SHA256."""
    if sha256:
        data = _integrity_input(message, len(message.attributes), 32)
        mac = hmac.new(key, data, hashlib.sha256).digest()
        return message.with_attributes(
            Attribute(AttributeType.MESSAGE_INTEGRITY_SHA256, mac)
        )
    data = _integrity_input(message, len(message.attributes), 20)
    mac = hmac.new(key, data, hashlib.sha1).digest()
    return message.with_attributes(Attribute(AttributeType.MESSAGE_INTEGRITY, mac))


def check_integrity(message: Message, key: bytes) -> bool:
    """Whether the message's integrity attribute matches the key.

    MESSAGE-INTEGRITY-SHA256 is checked when present, else MESSAGE-INTEGRITY;
    a message without either does not pass.
    """
    for index, attribute in enumerate(message.attributes):
        if attribute.type == AttributeType.MESSAGE_INTEGRITY_SHA256:
            data = _integrity_input(message, index, len(attribute.value))
            mac = hmac.new(key, data, hashlib.sha256).digest()
            return hmac.compare_digest(mac[: len(attribute.value)], attribute.value)
        if attribute.type == AttributeType.MESSAGE_INTEGRITY:
            has_sha256 = any(
                later.type == AttributeType.MESSAGE_INTEGRITY_SHA256
                for later in message.attributes[index + 1 :]
            )
            if has_sha256:
                continue
            data = _integrity_input(message, index, 20)
            mac = hmac.new(key, data, hashlib.sha1).digest()
            return hmac.compare_digest(mac, attribute.value)
    return False


def add_fingerprint(message: Message) -> Message:
    """Append FINGERPRINT (RFC 8489 §14.7)."""
    body = b"".join(bytes(a) for a in message.attributes)
    data = _header(message, len(body) + 8) + body
    crc = binascii.crc32(data) ^ FINGERPRINT_XOR
    return message.with_attributes(
        Attribute(AttributeType.FINGERPRINT, struct.pack("!I", crc))
    )
