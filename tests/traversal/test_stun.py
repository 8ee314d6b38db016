"""The STUN/TURN codec against RFC 5769 vectors, bad input and a fuzzer."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.traversal.channeldata import (
    ChannelData,
    frame_length,
    parse_channel_data,
)
from switchboard.traversal.credentials import long_term_key
from switchboard.traversal.stun import (
    Address,
    AddressFamily,
    Attribute,
    AttributeType,
    ErrorCode,
    Message,
    MessageClass,
    Method,
    StunError,
    add_fingerprint,
    add_integrity,
    check_integrity,
    decode_address,
    decode_error_code,
    decode_family,
    decode_password_algorithms,
    decode_unknown_attributes,
    encode_address,
    encode_error_code,
    encode_unknown_attributes,
    parse_message,
)


def unhex(text: str) -> bytes:
    """Hex as printed in the RFC (spaces, line breaks) to bytes."""
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1-§2.4 test vectors.
SAMPLE_REQUEST = unhex(
    """00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf"""
)
SAMPLE_IPV4_RESPONSE = unhex(
    """01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96"""
)
SAMPLE_IPV6_RESPONSE = unhex(
    """01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c"""
)
LONG_TERM_REQUEST = unhex(
    """00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
    53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66"""
)
SHORT_TERM_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
VECTORS = [
    SAMPLE_REQUEST,
    SAMPLE_IPV4_RESPONSE,
    SAMPLE_IPV6_RESPONSE,
    LONG_TERM_REQUEST,
]


@pytest.mark.parametrize("data", VECTORS)
def test_rfc5769_vectors_round_trip_byte_for_byte(data: bytes) -> None:
    assert bytes(parse_message(data)) == data


def test_sample_request_fields_and_integrity() -> None:
    message = parse_message(SAMPLE_REQUEST)
    assert message.method == Method.BINDING
    assert message.message_class is MessageClass.REQUEST
    assert message.transaction_id == unhex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
    assert message.get(AttributeType.SOFTWARE) == b"STUN test client"
    assert message.get(AttributeType.USERNAME) == b"evtj:h6vY"
    assert message.get(AttributeType.PRIORITY) == unhex("6e0001ff")
    assert message.get(AttributeType.ICE_CONTROLLED) == unhex("932ff9b151263b36")
    assert check_integrity(message, SHORT_TERM_PASSWORD)
    assert not check_integrity(message, b"wrong")


@pytest.mark.parametrize(
    ("data", "host"),
    [
        (SAMPLE_IPV4_RESPONSE, "192.0.2.1"),
        (SAMPLE_IPV6_RESPONSE, "2001:db8:1234:5678:11:2233:4455:6677"),
    ],
)
def test_sample_responses_decode_the_mapped_address(data: bytes, host: str) -> None:
    message = parse_message(data)
    assert message.message_class is MessageClass.SUCCESS
    assert message.get(AttributeType.SOFTWARE) == b"test vector"
    raw = message.get(AttributeType.XOR_MAPPED_ADDRESS)
    assert raw is not None
    address = decode_address(raw, message.transaction_id)
    assert address == Address(host, 32853)
    assert encode_address(address, message.transaction_id) == raw
    assert check_integrity(message, SHORT_TERM_PASSWORD)


def test_long_term_vector_integrity_and_rebuild() -> None:
    message = parse_message(LONG_TERM_REQUEST)
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
    assert message.get(AttributeType.USERNAME) == username.encode()
    assert message.get(AttributeType.NONCE) == b"f//499k954d6OL34oL9FSTvy64sA"
    assert message.get(AttributeType.REALM) == b"example.org"
    key = long_term_key(username, "example.org", "TheMatrIX")
    assert check_integrity(message, key)
    assert not check_integrity(message, long_term_key(username, "example.org", "x"))

    # Rebuilt from its parts and signed again, it is the same bytes.
    unsigned = Message(
        message.method,
        message.message_class,
        message.transaction_id,
        message.attributes[:-1],
    )
    assert bytes(add_integrity(unsigned, key)) == LONG_TERM_REQUEST


def test_built_messages_carry_valid_integrity_and_fingerprint() -> None:
    message = Message(
        Method.ALLOCATE,
        MessageClass.ERROR,
        bytes(range(12)),
        (Attribute(AttributeType.ERROR_CODE, encode_error_code(437, "Mismatch")),),
    )
    for sha256 in (False, True):
        signed = add_fingerprint(add_integrity(message, b"key", sha256=sha256))
        data = bytes(signed)
        assert struct.unpack_from("!H", data)[0] == 0x0113
        parsed = parse_message(data)
        assert parsed == signed
        assert check_integrity(parsed, b"key")
        assert not check_integrity(parsed, b"other")
        raw = parsed.get(AttributeType.ERROR_CODE)
        assert raw is not None
        assert decode_error_code(raw) == (437, "Mismatch")


def test_method_and_class_bits_interleave() -> None:
    for method in Method:
        for message_class in MessageClass:
            message = Message(method, message_class, bytes(12))
            parsed = parse_message(bytes(message))
            assert (parsed.method, parsed.message_class) == (method, message_class)


def test_value_codecs() -> None:
    assert decode_unknown_attributes(encode_unknown_attributes((0x1, 0x7F00))) == (
        0x1,
        0x7F00,
    )
    assert decode_password_algorithms(unhex("0001 0000 0002 0000")) == (1, 2)
    assert decode_family(unhex("02000000")) is AddressFamily.IPV6
    assert ErrorCode.STALE_NONCE.reason == "Stale Nonce"


def _with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (SAMPLE_REQUEST[:19], "header truncated"),
        (SAMPLE_REQUEST[:-4], "length does not match"),
        (SAMPLE_REQUEST + b"\x00" * 4, "length does not match"),
        (_with_length(SAMPLE_REQUEST, 0x57), "multiple of 4"),
        (b"\x80" + SAMPLE_REQUEST[1:], "leading bits"),
        (SAMPLE_REQUEST[:4] + b"\x00\x00\x00\x00" + SAMPLE_REQUEST[8:], "magic cookie"),
        (SAMPLE_REQUEST[:-1] + b"\x00", "FINGERPRINT mismatch"),
        (
            _with_length(SAMPLE_IPV4_RESPONSE[:20], 8) + unhex("0020 0008 0003 0000"),
            "overruns",
        ),
        (_with_length(SAMPLE_REQUEST[:20], 4) + unhex("0020 0000"), "address"),
        (
            _with_length(SAMPLE_REQUEST[:20], 12)
            + unhex("0020 0008 0002 0000 0102 0304"),
            "IPv6 address has bad length",
        ),
        (_with_length(SAMPLE_REQUEST[:20], 4) + unhex("0009 0000"), "ERROR-CODE"),
        (_with_length(SAMPLE_REQUEST[:20], 8) + unhex("0009 0004 0000 0763"), "range"),
        (_with_length(SAMPLE_REQUEST[:20], 8) + unhex("0006 0002 ff fe 0000"), "UTF-8"),
        (
            _with_length(SAMPLE_REQUEST[:20], 8) + unhex("000d 0002 0000 0000"),
            "LIFETIME",
        ),
        (_with_length(SAMPLE_REQUEST[:20], 8) + unhex("000a 0003 0001 0200"), "odd"),
    ],
)
def test_bad_wire_data_raises_the_codec_error(data: bytes, field: str) -> None:
    with pytest.raises(StunError, match=field):
        parse_message(data)


def test_oversized_text_attribute_is_refused() -> None:
    value = b"a" * 600
    body = bytes(Attribute(AttributeType.USERNAME, value))
    data = _with_length(SAMPLE_REQUEST[:20], len(body)) + body
    with pytest.raises(StunError, match="USERNAME longer"):
        parse_message(data)


def test_attribute_after_fingerprint_is_refused() -> None:
    message = add_fingerprint(Message(Method.BINDING, MessageClass.REQUEST, bytes(12)))
    extra = bytes(Attribute(AttributeType.SOFTWARE, b"late"))
    data = bytes(message) + extra
    with pytest.raises(StunError, match="after FINGERPRINT"):
        parse_message(_with_length(data, len(data) - 20))


def test_channel_data_framing() -> None:
    frame = ChannelData(0x4001, b"hello")
    assert bytes(frame) == unhex("4001 0005") + b"hello"
    assert frame.padded() == bytes(frame) + b"\x00\x00\x00"
    assert parse_channel_data(frame.padded()) == frame
    assert frame_length(frame.padded()[:4]) == 12
    assert frame_length(SAMPLE_REQUEST[:4]) == len(SAMPLE_REQUEST)
    assert frame_length(b"\x40") is None
    with pytest.raises(StunError, match="neither"):
        frame_length(b"\xc0\x00\x00\x00")
    with pytest.raises(StunError, match="overruns"):
        parse_channel_data(bytes(frame)[:-1])
    with pytest.raises(StunError, match="beyond padding"):
        parse_channel_data(bytes(frame) + bytes(4))
    with pytest.raises(StunError, match="out of range"):
        parse_channel_data(unhex("8000 0000"))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_the_codec_error(data: bytes) -> None:
    for parse in (parse_message, parse_channel_data):
        with contextlib.suppress(StunError):
            parse(data)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(VECTORS),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.integers(0, 200),
)
def test_fuzz_mutated_vectors_only_raise_the_codec_error(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    for candidate in (bytes(data), bytes(data[:cut])):
        try:
            message = parse_message(candidate)
        except StunError:
            continue
        assert bytes(message) == candidate
        check_integrity(message, b"key")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=8))
def test_fuzz_attribute_soup_only_raises_the_codec_error(
    attributes: list[tuple[int, bytes]],
) -> None:
    body = b"".join(bytes(Attribute(t, v)) for t, v in attributes)
    data = _with_length(SAMPLE_REQUEST[:20], len(body)) + body
    with contextlib.suppress(StunError):
        parse_message(data)
