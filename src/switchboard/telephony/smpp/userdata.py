"""SMS user data in SMPP short_message: headers, 7-bit packing, reassembly.

Outbound, each part of a text coded by `telephony.gsm` becomes one
short_message: the concatenation header (3GPP TS 23.040 §9.2.3.24.1) and the
payload, GSM septets either one per octet or packed (TS 23.038 §6.1.2.1).
Inbound, a deliver_sm is read back into a part with its concatenation info
(8-bit or 16-bit reference, §9.2.3.24.1 and §9.2.3.24.8, or the SMPP sar_*
TLVs of SMPP 3.4 §5.3.2.22-24); the SMS service puts the parts together.
"""

from __future__ import annotations

from switchboard.telephony import gsm
from switchboard.telephony.carriers.base import InboundPart
from switchboard.telephony.smpp.pdu import DataCoding, DeliverSm, EsmClass, Tag

_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08


def fill_bits(header_octets: int) -> int:
    """Zero bits after a user data header of this many octets, to a septet edge."""
    return (7 - (header_octets * 8) % 7) % 7


def short_message(
    coding: gsm.Coding, payload: bytes, udh: bytes, *, packed: bool
) -> bytes:
    """The short_message octets of one part: header, then the coded payload."""
    if coding is gsm.Coding.GSM7 and packed:
        return udh + gsm.pack_septets(payload, fill_bits(len(udh)))
    return udh + payload


def read_part(
    pdu: DeliverSm, sender: str, recipient: str, at: float, *, packed: bool
) -> InboundPart:
    """Split a deliver_sm's short_message into its concatenation info and payload.

    Raises:
        ValueError: the user data header is malformed.
    """
    data = pdu.short_message
    reference, total, sequence = 0, 1, 1
    header_octets = 0

    # TS 23.040 §9.2.3.24: UDHL, then information elements.
    if pdu.esm_class & EsmClass.UDHI:
        if not data:
            raise ValueError("SMS user data: UDHI set but no header")
        header_octets = 1 + data[0]
        if header_octets > len(data):
            raise ValueError("SMS user data: header longer than the message")
        found = _concat_element(data[1:header_octets])
        if found is not None:
            reference, total, sequence = found

    # SMPP 3.4 §5.3.2.22-24: the same information as TLVs.
    sar_total = pdu.tlv_int(Tag.SAR_TOTAL_SEGMENTS)
    if sar_total is not None:
        reference = pdu.tlv_int(Tag.SAR_MSG_REF_NUM) or 0
        total = sar_total
        sequence = pdu.tlv_int(Tag.SAR_SEGMENT_SEQNUM) or 1

    if not 1 <= sequence <= total:
        raise ValueError(f"SMS concatenation: part {sequence} of {total}")

    payload = data[header_octets:]
    if pdu.data_coding == DataCoding.SMSC_DEFAULT and packed:
        payload = _unpack(payload, fill_bits(header_octets) if header_octets else 0)
    return InboundPart(
        sender=sender,
        recipient=recipient,
        reference=reference,
        total=total,
        sequence=sequence,
        data_coding=pdu.data_coding,
        payload=payload,
        at=at,
    )


def _concat_element(header: bytes) -> tuple[int, int, int] | None:
    pos = 0
    while pos + 2 <= len(header):
        iei, size = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + size]
        if len(value) != size:
            raise ValueError("SMS user data: information element runs past header")
        if iei == _IEI_CONCAT_8 and size == 3:
            return value[0], value[1], value[2]
        if iei == _IEI_CONCAT_16 and size == 4:
            return int.from_bytes(value[:2], "big"), value[2], value[3]
        pos += 2 + size
    return None


def _unpack(octets: bytes, fill: int) -> bytes:
    bits = len(octets) * 8 - fill
    septets = gsm.unpack_septets(octets, bits // 7, fill)
    # Seven spare bits look like a final '@' (0x00): TS 23.038 §6.1.2.3.1
    # leaves that case ambiguous, and a padding septet is the likelier reading.
    if bits % 7 == 0 and septets.endswith(b"\0"):
        return septets[:-1]
    return septets
