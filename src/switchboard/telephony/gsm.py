"""GSM 03.38 text coding and SMS segmentation.

A text goes out in the GSM 7-bit default alphabet (with its extension table)
when every character has a code there, otherwise as UCS-2, which here means
UTF-16 big-endian so that characters outside the Basic Multilingual Plane
(emoji) survive as surrogate pairs. Long texts are cut into parts that each fit
one SMS beside an 8-bit concatenation header; a cut never separates an escape
from the character it introduces, nor the two halves of a surrogate pair.

Everything here is pure: no I/O, no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "GSM7_MULTI_PART",
    "GSM7_SINGLE_PART",
    "UCS2_MULTI_PART",
    "UCS2_SINGLE_PART",
    "Coding",
    "Encoded",
    "concat_udh",
    "decode",
    "decode_gsm7",
    "encode",
    "encode_gsm7",
    "gsm7_length",
    "is_gsm7",
    "pack_septets",
    "split",
    "unpack_septets",
]

# 3GPP TS 23.040 §9.2.3.16 and §9.2.3.24.1: the user data holds 140 octets, that
# is 160 septets or 70 UTF-16 units; the 6-octet concatenation header (with its
# fill bits in 7-bit coding) leaves 153 septets or 67 units per part.
GSM7_SINGLE_PART = 160
GSM7_MULTI_PART = 153
UCS2_SINGLE_PART = 70
UCS2_MULTI_PART = 67

ESCAPE = 0x1B

# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet, indexed by septet.
# 0x1B is the escape to the extension table and has no character of its own.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# 3GPP TS 23.038 §6.2.1.1: the extension table, each code sent after an escape.
_EXTENSION = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE: dict[str, bytes] = {
    char: bytes([code]) for code, char in enumerate(_BASIC) if code != ESCAPE
}
_ENCODE.update({char: bytes([ESCAPE, code]) for code, char in _EXTENSION.items()})


class Coding(IntEnum):
    """How a message's text is coded; the values are SMPP `data_coding` codes."""

    GSM7 = 0x00
    UCS2 = 0x08


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text coded and cut into the parts of one (possibly concatenated) SMS.

    For GSM7 each payload holds unpacked septets, one per octet (what SMPP
    carries); for UCS2 it holds UTF-16 big-endian octets. Payloads carry no
    user data header: add `concat_udh` in front when there is more than one.
    """

    coding: Coding
    texts: tuple[str, ...]
    """The characters of each part; joined they give the original text."""
    parts: tuple[bytes, ...]
    """The coded payload of each part."""
    units: int
    """Length of the whole text in septets (GSM7) or UTF-16 units (UCS2)."""

    @property
    def segments(self) -> int:
        """How many SMS the text takes."""
        return len(self.parts)


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` has a GSM 7-bit code."""
    return all(char in _ENCODE for char in text)


def gsm7_length(text: str) -> int | None:
    """The length of `text` in septets, or None when it needs UCS-2."""
    total = 0
    for char in text:
        code = _ENCODE.get(char)
        if code is None:
            return None
        total += len(code)
    return total


def encode_gsm7(text: str) -> bytes:
    """Code `text` as unpacked GSM 7-bit septets, one per octet.

    Raises:
        ValueError: a character has no GSM 7-bit code.
    """
    out = bytearray()
    for index, char in enumerate(text):
        code = _ENCODE.get(char)
        if code is None:
            raise ValueError(
                f"GSM 03.38: character {char!r} at {index} has no 7-bit code"
            )
        out += code
    return bytes(out)


def decode_gsm7(septets: bytes) -> str:
    """Decode unpacked GSM 7-bit septets, one per octet.

    An escape followed by a code the extension table does not define gives the
    default-alphabet character, and a final lone escape gives a space, as
    3GPP TS 23.038 §6.2.1.1 asks of a receiver.

    Raises:
        ValueError: an octet is above 0x7F.
    """
    chars: list[str] = []
    escaped = False
    for index, septet in enumerate(septets):
        if septet > 0x7F:
            raise ValueError(
                f"GSM 03.38: octet {septet:#04x} at {index} is not a septet"
            )

        if escaped:
            chars.append(_EXTENSION.get(septet, _BASIC[septet]))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC[septet])

    if escaped:
        chars.append(" ")
    return "".join(chars)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets into octets, least significant bit first (TS 23.038 §6.1.2.1).

    `fill_bits` zero bits come first, to align the text after a user data
    header to a septet boundary (TS 23.040 §9.2.3.24).
    """
    out = bytearray()
    accumulator = 0
    width = fill_bits
    for septet in septets:
        accumulator |= (septet & 0x7F) << width
        width += 7
        while width >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            width -= 8

    if width:
        out.append(accumulator & 0xFF)
    return bytes(out)


def unpack_septets(packed: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Take `count` septets out of packed octets, skipping `fill_bits` first.

    Raises:
        ValueError: the octets hold fewer than `count` septets.
    """
    if fill_bits + 7 * count > 8 * len(packed):
        raise ValueError(f"GSM 03.38: {len(packed)} octets cannot hold {count} septets")

    value = int.from_bytes(packed, "little") >> fill_bits
    return bytes((value >> (7 * index)) & 0x7F for index in range(count))


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _cut(text: str, cost: dict[str, int] | None, single: int, multi: int) -> list[str]:
    """Cut `text` into pieces of at most `multi` units, or one of `single`.

    Characters are whole units of cutting, so an escape pair (a two-septet
    character) or a surrogate pair (a two-unit character) stays in one piece.
    """

    def width(char: str) -> int:
        return cost[char] if cost is not None else _utf16_units(char)

    total = sum(width(char) for char in text)
    if total <= single:
        return [text]

    pieces: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(text):
        size = width(char)
        if used + size > multi:
            pieces.append(text[start:index])
            start = index
            used = 0
        used += size

    pieces.append(text[start:])
    return pieces


_GSM7_COST = {char: len(code) for char, code in _ENCODE.items()}


def encode(text: str) -> Encoded:
    """Code `text` for SMS: GSM 7-bit when it can, else UCS-2, cut into parts."""
    septets = gsm7_length(text)
    if septets is not None:
        texts = _cut(text, _GSM7_COST, GSM7_SINGLE_PART, GSM7_MULTI_PART)
        return Encoded(
            coding=Coding.GSM7,
            texts=tuple(texts),
            parts=tuple(encode_gsm7(piece) for piece in texts),
            units=septets,
        )

    texts = _cut(text, None, UCS2_SINGLE_PART, UCS2_MULTI_PART)
    return Encoded(
        coding=Coding.UCS2,
        texts=tuple(texts),
        parts=tuple(piece.encode("utf-16-be", "surrogatepass") for piece in texts),
        units=sum(_utf16_units(char) for char in text),
    )


def split(text: str) -> list[str]:
    """The characters of each SMS part `text` would be sent as."""
    return list(encode(text).texts)


def decode(payload: bytes, data_coding: int) -> str:
    """Decode an SMS payload (without its user data header) by SMPP `data_coding`.

    0 is the GSM default alphabet as unpacked septets, 1 is IA5 (ASCII), 3 is
    Latin-1 and 8 is UCS-2 (read as UTF-16 big-endian); SMPP 3.4 §5.2.19.

    Raises:
        ValueError: an unknown coding, or bytes that the coding cannot hold.
    """
    if data_coding == Coding.GSM7:
        return decode_gsm7(payload)
    if data_coding == 0x01:
        return payload.decode("ascii")
    if data_coding == 0x03:
        return payload.decode("latin-1")
    if data_coding == Coding.UCS2:
        return payload.decode("utf-16-be", "surrogatepass")
    raise ValueError(f"SMPP: data_coding {data_coding:#04x} is not supported")


def concat_udh(reference: int, total: int, sequence: int) -> bytes:
    """The user data header for part `sequence` (from 1) of `total` parts.

    3GPP TS 23.040 §9.2.3.24.1: information element 0x00, concatenated short
    message with an 8-bit reference number.

    Raises:
        ValueError: a number is out of range.
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"SMS concatenation: reference {reference} is not 0..255")
    if not 1 <= total <= 0xFF:
        raise ValueError(f"SMS concatenation: total {total} is not 1..255")
    if not 1 <= sequence <= total:
        raise ValueError(f"SMS concatenation: part {sequence} is not 1..{total}")

    return bytes([0x05, 0x00, 0x03, reference, total, sequence])
