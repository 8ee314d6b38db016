"""The SMPP 3.4 PDU codec: round trips, bytes from smpplib, bad input, fuzzing."""

from __future__ import annotations

import struct

import pytest
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.telephony.smpp.pdu import (
    MAX_COMMAND_LENGTH,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    Unbind,
    UnbindResp,
    command_length,
    parse_pdu,
    status_name,
)


class _Seq:
    sequence = 0

    def next_sequence(self) -> int:
        return 1


def smpplib_bytes(command: str, **fields: object) -> bytes:
    """The wire bytes smpplib produces for a PDU: a second implementation."""
    sequence = fields.pop("sequence")
    pdu = smpplib.smpp.make_pdu(command, client=_Seq(), **fields)
    # smpplib ignores a `sequence` argument while its client has a sequence.
    pdu.sequence = sequence
    data: bytes = pdu.generate()
    return data


SUBMIT = SubmitSm(
    sequence=7,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="14255550100",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900123",
    esm_class=0x40,
    registered_delivery=1,
    data_coding=8,
    short_message=b"\x05\x00\x03\x2a\x02\x01" + "h\u00e9".encode("utf-16-be"),
    tlvs=(Tlv.integer(Tag.USER_MESSAGE_REFERENCE, 300, 2),),
)

EXAMPLES: list[Pdu] = [
    BindTransceiver(
        sequence=1, system_id="switchboard", password="secret", system_type="SB"
    ),
    BindTransmitter(sequence=2, system_id="a", password=""),
    BindReceiver(sequence=3, system_id="b", password="p", address_range="^1425"),
    BindTransceiverResp(
        sequence=1,
        system_id="TestSMSC",
        tlvs=(Tlv.integer(Tag.SC_INTERFACE_VERSION, 0x34),),
    ),
    BindTransceiverResp(sequence=1, status=CommandStatus.ESME_RBINDFAIL),
    BindTransmitterResp(sequence=2, system_id="x"),
    BindReceiverResp(sequence=3, system_id="y"),
    SUBMIT,
    SubmitSmResp(sequence=7, message_id="0000ABCD"),
    SubmitSmResp(sequence=8, status=CommandStatus.ESME_RTHROTTLED),
    DeliverSm(
        sequence=9,
        source_addr="14255550199",
        destination_addr="14255550100",
        esm_class=0x04,
        short_message=b"id:0000ABCD sub:001 dlvrd:001 stat:DELIVRD err:000 text:",
        tlvs=(
            Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "0000ABCD"),
            Tlv.integer(Tag.MESSAGE_STATE, 2),
        ),
    ),
    DeliverSmResp(sequence=9),
    DeliverSmResp(sequence=10, status=CommandStatus.ESME_RX_T_APPN),
    EnquireLink(sequence=11),
    EnquireLinkResp(sequence=11),
    Unbind(sequence=12),
    UnbindResp(sequence=12),
    GenericNack(sequence=13, status=CommandStatus.ESME_RINVCMDID),
]


@pytest.mark.parametrize("pdu", EXAMPLES, ids=lambda p: type(p).__name__)
def test_every_pdu_survives_a_round_trip(pdu: Pdu) -> None:
    data = bytes(pdu)

    parsed = parse_pdu(data)

    assert parsed == pdu
    assert bytes(parsed) == data
    assert struct.unpack(">I", data[:4])[0] == len(data)


def test_submit_sm_fields_and_bytes() -> None:
    data = bytes(SUBMIT)

    assert data[4:16] == struct.pack(">III", 0x00000004, 0, 7)
    parsed = parse_pdu(data)
    assert isinstance(parsed, SubmitSm)
    assert parsed.destination_addr == "447700900123"
    assert parsed.registered_delivery == 1
    assert parsed.short_message[6:].decode("utf-16-be") == "h\u00e9"
    assert parsed.tlv_int(Tag.USER_MESSAGE_REFERENCE) == 300
    assert parsed.tlv(Tag.MESSAGE_PAYLOAD) is None


@pytest.mark.parametrize(
    ("command", "fields", "expected"),
    [
        (
            "bind_transceiver",
            {"system_id": "sys", "password": "pw", "system_type": "", "sequence": 5},
            BindTransceiver(sequence=5, system_id="sys", password="pw"),
        ),
        (
            "submit_sm",
            {
                "sequence": 6,
                "source_addr_ton": 1,
                "source_addr_npi": 1,
                "source_addr": "1425",
                "dest_addr_ton": 1,
                "dest_addr_npi": 1,
                "destination_addr": "4477",
                "registered_delivery": 1,
                "data_coding": 0,
                "short_message": b"Hello",
            },
            SubmitSm(
                sequence=6,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr="1425",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr="4477",
                registered_delivery=1,
                short_message=b"Hello",
            ),
        ),
        (
            "submit_sm_resp",
            {"sequence": 6, "message_id": "42"},
            SubmitSmResp(sequence=6, message_id="42"),
        ),
        (
            "deliver_sm",
            {
                "sequence": 8,
                "source_addr": "4477",
                "destination_addr": "1425",
                "esm_class": 4,
                "short_message": b"id:42 stat:DELIVRD",
                "receipted_message_id": "42",
                "message_state": 2,
            },
            DeliverSm(
                sequence=8,
                source_addr="4477",
                destination_addr="1425",
                esm_class=4,
                short_message=b"id:42 stat:DELIVRD",
                tlvs=(
                    Tlv.integer(Tag.MESSAGE_STATE, 2),
                    Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "42"),
                ),
            ),
        ),
        ("enquire_link", {"sequence": 9}, EnquireLink(sequence=9)),
        ("unbind_resp", {"sequence": 10}, UnbindResp(sequence=10)),
    ],
)
def test_bytes_from_smpplib_parse_and_serialise_identically(
    command: str, fields: dict[str, object], expected: Pdu
) -> None:
    data = smpplib_bytes(command, **fields)

    parsed = parse_pdu(data)

    assert parsed == expected
    assert bytes(parsed) == data


def test_a_failed_response_may_carry_an_empty_body() -> None:
    data = struct.pack(">IIII", 17, 0x80000004, 0x58, 3) + b"\0"

    parsed = parse_pdu(data)

    assert parsed == SubmitSmResp(sequence=3, status=CommandStatus.ESME_RTHROTTLED)


def test_the_password_stays_out_of_the_repr() -> None:
    bind = BindTransceiver(sequence=1, system_id="switchboard", password="hunter2")

    assert "hunter2" not in repr(bind)
    assert repr(bind) == (
        "BindTransceiver(sequence=1, system_id='switchboard', system_type='')"
    )


def test_status_names() -> None:
    assert status_name(0x58) == "ESME_RTHROTTLED (0x00000058)"
    assert status_name(0x400) == "vendor status (0x00000400)"


def _header(length: int, command: int, status: int = 0, seq: int = 1) -> bytes:
    return struct.pack(">IIII", length, command, status, seq)


@pytest.mark.parametrize(
    ("data", "message", "status", "sequence"),
    [
        (b"\0\0", "SMPP header: fewer than 4 octets of command_length", 8, None),
        (
            _header(15, 0x15),
            "SMPP header: command_length 15 outside 16..70000",
            2,
            None,
        ),
        (
            _header(MAX_COMMAND_LENGTH + 1, 4),
            "SMPP header: command_length 70001 outside 16..70000",
            2,
            None,
        ),
        (
            _header(20, 0x15) + b"\0",
            "SMPP header: command_length 20 but 17 octets",
            2,
            1,
        ),
        (
            _header(16, 0x12345),
            "SMPP header: unknown command_id 0x00012345",
            3,
            1,
        ),
        (
            _header(16, 4, seq=9),
            "SubmitSm.service_type: no NUL within 6 octets",
            1,
            9,
        ),
        (
            _header(23, 9) + b"abcdefg",
            "BindTransceiver.system_id: no NUL within 16 octets",
            1,
            1,
        ),
        (
            _header(16 + 17, 9) + b"x" * 17,
            "BindTransceiver.system_id: no NUL within 16 octets",
            1,
            1,
        ),
        (
            _header(16 + 4, 9) + b"a\0b\0",
            "BindTransceiver.system_type: no NUL within 13 octets",
            1,
            1,
        ),
        (
            _header(16 + 6, 9) + b"a\0b\0\0\x34",
            "BindTransceiver.addr_ton: truncated",
            1,
            1,
        ),
        (
            _header(16 + 8, 0x80000004) + b"1\0\x02\x04\x00\x05ab",
            "SubmitSmResp: TLV 0x0204 length 5 runs past the PDU",
            0xC2,
            1,
        ),
        (
            _header(16 + 4, 0x80000004) + b"1\0\x02\x04",
            "SubmitSmResp: truncated TLV header at octet 18",
            0xC0,
            1,
        ),
    ],
)
def test_bad_input_is_refused_with_the_status_to_answer(
    data: bytes, message: str, status: int, sequence: int | None
) -> None:
    with pytest.raises(PduError) as caught:
        parse_pdu(data)

    assert str(caught.value) == message
    assert caught.value.status == status
    assert caught.value.sequence == sequence


def test_a_short_message_longer_than_its_pdu_is_refused() -> None:
    good = bytes(SubmitSm(sequence=4, short_message=b"hello"))
    body_end = len(good)
    data = bytearray(good)
    data[body_end - 6] = 200
    with pytest.raises(PduError) as caught:
        parse_pdu(bytes(data))

    assert (
        str(caught.value) == "SubmitSm.short_message: sm_length 200 runs past the PDU"
    )


def test_an_sm_length_above_254_is_refused() -> None:
    data = bytearray(bytes(SubmitSm(sequence=4, short_message=b"x")))
    data[-2] = 255
    data += b"x" * 254
    data[0:4] = struct.pack(">I", len(data))

    with pytest.raises(PduError) as caught:
        parse_pdu(bytes(data))

    assert str(caught.value) == "SubmitSm.short_message: sm_length 255 above 254"


def test_values_that_do_not_fit_are_refused_when_serialising() -> None:
    with pytest.raises(ValueError, match="system_id does not fit 16"):
        bytes(BindTransceiver(sequence=1, system_id="x" * 16, password=""))
    with pytest.raises(ValueError, match="short_message is longer than 254 octets"):
        bytes(SubmitSm(sequence=1, short_message=b"x" * 255))


def test_command_length_reads_the_first_four_octets() -> None:
    assert command_length(bytes(EnquireLink(sequence=1))) == 16
    assert CommandId.SUBMIT_SM_RESP == 0x80000004


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_parse_or_raise_pdu_error(noise: bytes) -> None:
    data = struct.pack(">I", len(noise) + 4) + noise
    try:
        pdu = parse_pdu(data)
    except PduError:
        return
    assert parse_pdu(bytes(pdu)) == pdu


_cstring = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=5
)


@settings(max_examples=200, deadline=None)
@given(
    command=st.sampled_from([0x00000004, 0x00000005, 0x80000004, 0x00000009]),
    sequence=st.integers(1, 0x7FFFFFFF),
    text=_cstring,
    octet=st.integers(0, 255),
    message=st.binary(max_size=254),
    tlvs=st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)), max_size=3
    ),
)
def test_fuzz_structured_pdus_round_trip(
    command: int,
    sequence: int,
    text: str,
    octet: int,
    message: bytes,
    tlvs: list[tuple[int, bytes]],
) -> None:
    extra = tuple(Tlv(tag, value) for tag, value in tlvs)
    pdu: Pdu
    if command == 0x00000004:
        pdu = SubmitSm(
            sequence=sequence,
            source_addr=text,
            esm_class=octet,
            short_message=message,
            tlvs=extra,
        )
    elif command == 0x00000005:
        pdu = DeliverSm(
            sequence=sequence, destination_addr=text, data_coding=octet, tlvs=extra
        )
    elif command == 0x80000004:
        pdu = SubmitSmResp(sequence=sequence, message_id=text + "1", tlvs=extra)
    else:
        pdu = BindTransceiver(
            sequence=sequence, system_id=text, password=text, addr_ton=octet
        )

    assert parse_pdu(bytes(pdu)) == pdu
