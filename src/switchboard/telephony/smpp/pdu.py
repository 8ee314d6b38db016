"""SMPP 3.4 PDU codec: the PDUs an ESME transceiver sends and receives.

Everything here is pure: ``parse_pdu(data)`` builds one :class:`Pdu` from the
bytes of exactly one PDU and ``bytes(pdu)`` gives the wire form back. Bad wire
data raises :class:`PduError` and nothing else; it carries the command status a
peer should be answered with (SMPP 3.4 §5.1.3) and the sequence number when it
could be read.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

HEADER_LENGTH = 16
# SMPP 3.4 §3.2 puts no upper bound on command_length; message_payload (§5.3.2.32)
# carries at most 64 KiB, so anything far above that is a broken or hostile peer.
MAX_COMMAND_LENGTH = 70_000
RESPONSE_BIT = 0x80000000
MAX_SEQUENCE = 0x7FFFFFFF
MAX_SHORT_MESSAGE = 254
_HEADER = struct.Struct(">IIII")


class CommandId(enum.IntEnum):
    """command_id values (SMPP 3.4 §5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class CommandStatus(enum.IntEnum):
    """command_status error codes (SMPP 3.4 §5.1.3)."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVESMCLASS = 0x00000043
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


def status_name(status: int) -> str:
    """A command status as `ESME_RTHROTTLED (0x00000058)`, vendor codes in hex."""
    try:
        name = CommandStatus(status).name
    except ValueError:
        name = "vendor status"
    return f"{name} (0x{status:08X})"


class Tag(enum.IntEnum):
    """Optional parameter tags this codec names (SMPP 3.4 §5.3.2)."""

    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class EsmClass(enum.IntFlag):
    """esm_class bits this carrier reads or sets (SMPP 3.4 §5.2.12)."""

    DELIVERY_RECEIPT = 0x04
    UDHI = 0x40


MESSAGE_TYPE_MASK = 0x3C
"""esm_class bits 5-2: the message type (§5.2.12)."""


class DataCoding(enum.IntEnum):
    """data_coding values this carrier uses (SMPP 3.4 §5.2.19)."""

    SMSC_DEFAULT = 0x00
    IA5 = 0x01
    LATIN1 = 0x03
    UCS2 = 0x08


class Ton(enum.IntEnum):
    """Type of number (SMPP 3.4 §5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    ALPHANUMERIC = 5


class Npi(enum.IntEnum):
    """Numbering plan indicator (SMPP 3.4 §5.2.6)."""

    UNKNOWN = 0
    ISDN = 1


class PduError(ValueError):
    """Bad SMPP wire data; the message names the PDU and the field."""

    def __init__(
        self,
        message: str,
        *,
        status: int = CommandStatus.ESME_RSYSERR,
        sequence: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence


@dataclass(frozen=True, slots=True)
class Tlv:
    """One optional parameter: tag, then the raw value (SMPP 3.4 §3.2.1.5)."""

    tag: int
    value: bytes

    @classmethod
    def integer(cls, tag: int, value: int, size: int = 1) -> Tlv:
        """An Integer TLV of `size` octets."""
        return cls(tag, value.to_bytes(size, "big"))

    @classmethod
    def cstring(cls, tag: int, value: str) -> Tlv:
        """A C-Octet String TLV: the text and its terminating NUL."""
        return cls(tag, value.encode("latin-1") + b"\0")

    def __bytes__(self) -> bytes:
        return struct.pack(">HH", self.tag, len(self.value)) + self.value


class _Kind(enum.Enum):
    INT8 = "int8"
    CSTRING = "cstring"
    SHORT_MESSAGE = "short_message"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: _Kind
    max_octets: int = 0


def _int8(name: str) -> _Field:
    return _Field(name, _Kind.INT8)


def _cstr(name: str, max_octets: int) -> _Field:
    return _Field(name, _Kind.CSTRING, max_octets)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pdu:
    """A PDU: the header fields, the mandatory body of its subclass, then TLVs."""

    command_id: ClassVar[CommandId]
    _layout: ClassVar[tuple[_Field, ...]] = ()

    sequence: int
    status: int = CommandStatus.ESME_ROK
    tlvs: tuple[Tlv, ...] = ()

    @property
    def is_response(self) -> bool:
        """Whether this PDU answers a request (command_id bit 31)."""
        return bool(self.command_id & RESPONSE_BIT)

    def tlv(self, tag: int) -> bytes | None:
        """The value of the first TLV with `tag`, or None."""
        for tlv in self.tlvs:
            if tlv.tag == tag:
                return tlv.value
        return None

    def tlv_int(self, tag: int) -> int | None:
        """An Integer TLV's value, or None when absent."""
        value = self.tlv(tag)
        return None if value is None else int.from_bytes(value, "big")

    def tlv_cstring(self, tag: int) -> str | None:
        """A C-Octet String TLV's text without its NUL, or None when absent."""
        value = self.tlv(tag)
        return None if value is None else value.rstrip(b"\0").decode("latin-1")

    def __bytes__(self) -> bytes:
        body = b"" if self._omit_body() else self._encode_body()
        body += b"".join(bytes(t) for t in self.tlvs)
        header = _HEADER.pack(
            HEADER_LENGTH + len(body), self.command_id, self.status, self.sequence
        )
        return header + body

    def _omit_body(self) -> bool:
        # SMPP 3.4 §4.4.2 and kin: a failed response may come without a body.
        if not (self.is_response and self.status and not self.tlvs):
            return False
        return all(not getattr(self, f.name) for f in self._layout)

    def _encode_body(self) -> bytes:
        out = bytearray()
        for spec in self._layout:
            value = getattr(self, spec.name)
            if spec.kind is _Kind.INT8:
                out.append(value)
            elif spec.kind is _Kind.CSTRING:
                raw = value.encode("latin-1")
                if len(raw) + 1 > spec.max_octets or b"\0" in raw:
                    raise ValueError(f"{spec.name} does not fit {spec.max_octets}")
                out += raw + b"\0"
            else:
                if len(value) > MAX_SHORT_MESSAGE:
                    raise ValueError("short_message is longer than 254 octets")
                out.append(len(value))
                out += value
        return bytes(out)


_BIND_LAYOUT = (
    _cstr("system_id", 16),
    _cstr("password", 9),
    _cstr("system_type", 13),
    _int8("interface_version"),
    _int8("addr_ton"),
    _int8("addr_npi"),
    _cstr("address_range", 41),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bind(Pdu):
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    _layout = _BIND_LAYOUT

    def __repr__(self) -> str:
        # The password never appears in a repr, a log line or a traceback.
        return (
            f"{type(self).__name__}(sequence={self.sequence}, "
            f"system_id={self.system_id!r}, system_type={self.system_type!r})"
        )


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindTransceiver(_Bind):
    """bind_transceiver (SMPP 3.4 §4.1.5)."""

    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindTransmitter(_Bind):
    """bind_transmitter (SMPP 3.4 §4.1.1)."""

    command_id = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindReceiver(_Bind):
    """bind_receiver (SMPP 3.4 §4.1.3)."""

    command_id = CommandId.BIND_RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class _BindResp(Pdu):
    system_id: str = ""

    _layout = (_cstr("system_id", 16),)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    """bind_transceiver_resp (SMPP 3.4 §4.1.6)."""

    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    """bind_transmitter_resp (SMPP 3.4 §4.1.2)."""

    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    """bind_receiver_resp (SMPP 3.4 §4.1.4)."""

    command_id = CommandId.BIND_RECEIVER_RESP


_SM_LAYOUT = (
    _cstr("service_type", 6),
    _int8("source_addr_ton"),
    _int8("source_addr_npi"),
    _cstr("source_addr", 21),
    _int8("dest_addr_ton"),
    _int8("dest_addr_npi"),
    _cstr("destination_addr", 21),
    _int8("esm_class"),
    _int8("protocol_id"),
    _int8("priority_flag"),
    _cstr("schedule_delivery_time", 17),
    _cstr("validity_period", 17),
    _int8("registered_delivery"),
    _int8("replace_if_present_flag"),
    _int8("data_coding"),
    _int8("sm_default_msg_id"),
    _Field("short_message", _Kind.SHORT_MESSAGE),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ShortMessage(Pdu):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    _layout = _SM_LAYOUT

    def __repr__(self) -> str:
        # Message text stays out of reprs and therefore out of logs.
        return (
            f"{type(self).__name__}(sequence={self.sequence}, "
            f"esm_class=0x{self.esm_class:02X}, data_coding={self.data_coding}, "
            f"sm_length={len(self.short_message)}, tlvs={len(self.tlvs)})"
        )


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SubmitSm(_ShortMessage):
    """submit_sm (SMPP 3.4 §4.4.1)."""

    command_id = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DeliverSm(_ShortMessage):
    """deliver_sm (SMPP 3.4 §4.6.1)."""

    command_id = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(Pdu):
    """submit_sm_resp (SMPP 3.4 §4.4.2)."""

    command_id = CommandId.SUBMIT_SM_RESP
    _layout = (_cstr("message_id", 65),)

    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(Pdu):
    """deliver_sm_resp (SMPP 3.4 §4.6.2); message_id is unused and empty."""

    command_id = CommandId.DELIVER_SM_RESP
    _layout = (_cstr("message_id", 65),)

    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Pdu):
    """enquire_link (SMPP 3.4 §4.11.1)."""

    command_id = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    """enquire_link_resp (SMPP 3.4 §4.11.2)."""

    command_id = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Pdu):
    """unbind (SMPP 3.4 §4.2.1)."""

    command_id = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Pdu):
    """unbind_resp (SMPP 3.4 §4.2.2)."""

    command_id = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Pdu):
    """generic_nack (SMPP 3.4 §4.3.1)."""

    command_id = CommandId.GENERIC_NACK


_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransceiver,
        BindTransceiverResp,
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        EnquireLink,
        EnquireLinkResp,
        Unbind,
        UnbindResp,
        GenericNack,
    )
}


def command_length(header: bytes) -> int:
    """The command_length of a PDU from its first four octets (SMPP 3.4 §3.2).

    Raises PduError when it is below the header size or above MAX_COMMAND_LENGTH:
    the stream cannot be framed any more and the connection must be closed.
    """
    if len(header) < 4:
        raise PduError("SMPP header: fewer than 4 octets of command_length")
    length = int.from_bytes(header[:4], "big")
    if not HEADER_LENGTH <= length <= MAX_COMMAND_LENGTH:
        raise PduError(
            f"SMPP header: command_length {length} outside "
            f"{HEADER_LENGTH}..{MAX_COMMAND_LENGTH}",
            status=CommandStatus.ESME_RINVCMDLEN,
        )
    return length


def parse_pdu(data: bytes) -> Pdu:
    """Parse the bytes of exactly one PDU (SMPP 3.4 §3.2)."""
    # Header
    length = command_length(data)
    if len(data) < HEADER_LENGTH:
        raise PduError("SMPP header: truncated", status=CommandStatus.ESME_RINVCMDLEN)
    _, command, status, sequence = _HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(
            f"SMPP header: command_length {length} but {len(data)} octets",
            status=CommandStatus.ESME_RINVCMDLEN,
            sequence=sequence,
        )
    cls = _CLASSES.get(command)
    if cls is None:
        raise PduError(
            f"SMPP header: unknown command_id 0x{command:08X}",
            status=CommandStatus.ESME_RINVCMDID,
            sequence=sequence,
        )
    name = cls.__name__

    # Mandatory body
    values: dict[str, object] = {}
    pos = HEADER_LENGTH
    failed_response = bool(command & RESPONSE_BIT) and status != 0
    if not (failed_response and pos == len(data)):
        for spec in cls._layout:
            values[spec.name], pos = _read_field(data, pos, spec, name, sequence)

    # Optional parameters
    tlvs = _read_tlvs(data, pos, name, sequence)
    return cls(sequence=sequence, status=status, tlvs=tlvs, **values)


def _read_field(
    data: bytes, pos: int, spec: _Field, pdu: str, sequence: int
) -> tuple[object, int]:
    def fail(what: str) -> PduError:
        return PduError(
            f"{pdu}.{spec.name}: {what}",
            status=CommandStatus.ESME_RINVMSGLEN,
            sequence=sequence,
        )

    if spec.kind is _Kind.INT8:
        if pos >= len(data):
            raise fail("truncated")
        return data[pos], pos + 1

    if spec.kind is _Kind.CSTRING:
        end = data.find(b"\0", pos, pos + spec.max_octets)
        if end < 0:
            raise fail(f"no NUL within {spec.max_octets} octets")
        return data[pos:end].decode("latin-1"), end + 1

    if pos >= len(data):
        raise fail("sm_length truncated")
    size = data[pos]
    if size > MAX_SHORT_MESSAGE:
        raise fail(f"sm_length {size} above {MAX_SHORT_MESSAGE}")
    if pos + 1 + size > len(data):
        raise fail(f"sm_length {size} runs past the PDU")
    return data[pos + 1 : pos + 1 + size], pos + 1 + size


def _read_tlvs(data: bytes, pos: int, pdu: str, sequence: int) -> tuple[Tlv, ...]:
    # SMPP 3.4 §3.2.1.5: tag (2), length (2), value (length octets), to the end.
    tlvs: list[Tlv] = []
    while pos < len(data):
        if pos + 4 > len(data):
            raise PduError(
                f"{pdu}: truncated TLV header at octet {pos}",
                status=CommandStatus.ESME_RINVOPTPARSTREAM,
                sequence=sequence,
            )
        tag, size = struct.unpack_from(">HH", data, pos)
        if pos + 4 + size > len(data):
            raise PduError(
                f"{pdu}: TLV 0x{tag:04X} length {size} runs past the PDU",
                status=CommandStatus.ESME_RINVPARLEN,
                sequence=sequence,
            )
        tlvs.append(Tlv(tag, data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return tuple(tlvs)
