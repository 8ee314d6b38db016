"""Delivery receipt text and TLVs, inbound user data, and the link configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import ConfigError, load_settings
from switchboard.telephony.carriers.base import DeliveryStatus, text_of
from switchboard.telephony.smpp.pdu import DeliverSm, Tag, Tlv
from switchboard.telephony.smpp.receipts import (
    MessageState,
    Receipt,
    ReceiptError,
    format_receipt,
    is_receipt,
    parse_receipt_text,
    receipt_from_pdu,
)
from switchboard.telephony.smpp.userdata import read_part

TEXT = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2501011200 "
    "done date:2501011201 stat:DELIVRD err:000 text:Hello stat:no"
)


def test_the_appendix_b_text_parses_and_formats_back() -> None:
    receipt = parse_receipt_text(TEXT)

    assert receipt == Receipt(
        message_id="0123456789",
        state=MessageState.DELIVERED,
        error="000",
        submitted=1,
        delivered=1,
        submit_date="2501011200",
        done_date="2501011201",
        text="Hello stat:no",
    )
    assert format_receipt(receipt) == TEXT
    assert receipt.status is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("DELIVRD", DeliveryStatus.DELIVERED),
        ("ACCEPTD", DeliveryStatus.DELIVERED),
        ("EXPIRED", DeliveryStatus.EXPIRED),
        ("UNDELIV", DeliveryStatus.FAILED),
        ("REJECTD", DeliveryStatus.FAILED),
        ("DELETED", DeliveryStatus.FAILED),
        ("UNKNOWN", DeliveryStatus.FAILED),
        ("ENROUTE", None),
    ],
)
def test_each_stat_word_maps_to_a_final_status(
    word: str, status: DeliveryStatus | None
) -> None:
    assert parse_receipt_text(f"ID:7 Stat:{word.lower()} Err:1").status == status


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sub:001 stat:DELIVRD", "delivery receipt: no id field"),
        ("id:1 stat:LOST", "delivery receipt: unknown stat 'LOST'"),
        ("nothing here", "delivery receipt: no id field"),
    ],
)
def test_unreadable_receipt_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(ReceiptError) as caught:
        parse_receipt_text(text)

    assert str(caught.value) == message


def test_the_tlvs_win_over_the_text() -> None:
    pdu = DeliverSm(
        sequence=1,
        esm_class=0x04,
        short_message=b"id:123 stat:UNDELIV err:005",
        tlvs=(
            Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "7B"),
            Tlv.integer(Tag.MESSAGE_STATE, MessageState.DELIVERED),
        ),
    )

    receipt = receipt_from_pdu(pdu)

    assert is_receipt(pdu)
    assert (receipt.message_id, receipt.state, receipt.error) == (
        "7B",
        MessageState.DELIVERED,
        "005",
    )


def test_tlvs_alone_make_a_receipt() -> None:
    pdu = DeliverSm(
        sequence=1,
        esm_class=0x04,
        tlvs=(
            Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "7B"),
            Tlv.integer(Tag.MESSAGE_STATE, MessageState.EXPIRED),
        ),
    )

    assert receipt_from_pdu(pdu) == Receipt("7B", MessageState.EXPIRED)


def test_an_ordinary_message_is_not_a_receipt() -> None:
    assert not is_receipt(DeliverSm(sequence=1, esm_class=0x40))


def test_a_malformed_user_data_header_is_refused() -> None:
    pdu = DeliverSm(sequence=1, esm_class=0x40, short_message=b"\x09\x00\x03\x01")

    with pytest.raises(ValueError, match="header longer than the message"):
        read_part(pdu, "+1", "+2", 0.0, packed=False)


def test_sar_tlvs_give_the_parts_like_a_header() -> None:
    def part(seq: int, text: bytes) -> DeliverSm:
        return DeliverSm(
            sequence=seq,
            short_message=text,
            tlvs=(
                Tlv.integer(Tag.SAR_MSG_REF_NUM, 513, 2),
                Tlv.integer(Tag.SAR_TOTAL_SEGMENTS, 2),
                Tlv.integer(Tag.SAR_SEGMENT_SEQNUM, seq),
            ),
        )

    second = read_part(part(2, b"world"), "+1", "+2", 5.0, packed=False)
    first = read_part(part(1, b"hello "), "+1", "+2", 6.0, packed=False)

    assert (first.reference, first.total, first.sequence) == (513, 2, 1)
    assert (second.reference, second.total, second.sequence) == (513, 2, 2)
    assert (first.sender, first.recipient, first.at) == ("+1", "+2", 6.0)
    assert text_of([first, second]) == "hello world"


def test_smpp_links_load_from_toml_and_hide_the_password(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        """
[[telephony.smpp]]
name = "carrier-a"
host = "127.0.0.1"
port = 2775
system_id = "switchboard"
password = "s3cr3t"
window = 20

[[telephony.smpp.blocks]]
country = "US"
first = "+14255550100"
count = 100
"""
    )

    settings = load_settings(config, environ={})

    [link] = settings.telephony.smpp
    assert (link.name, link.window, link.blocks[0].count) == ("carrier-a", 20, 100)
    assert link.password.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings)


def test_a_long_smpp_password_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        '[[telephony.smpp]]\nname = "a"\nsystem_id = "x"\npassword = "123456789"\n'
    )

    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})

    assert "an SMPP 3.4 password has at most 8 characters" in str(caught.value)
