"""SMSC delivery receipts: the common text format and the receipt TLVs.

SMPP 3.4 Appendix B gives the de-facto receipt text carried in the
short_message of a deliver_sm whose esm_class says "SMSC delivery receipt"
(§5.2.12); §5.3.2.12 and §5.3.2.35 add the receipted_message_id and
message_state TLVs, which win over the text when both are present.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from switchboard.telephony.carriers.base import DeliveryStatus
from switchboard.telephony.smpp.pdu import (
    MESSAGE_TYPE_MASK,
    DeliverSm,
    EsmClass,
    Tag,
)


class MessageState(enum.IntEnum):
    """message_state values (SMPP 3.4 §5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


# Appendix B: the seven-letter `stat:` words for each message state.
_STAT_WORDS = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
_STATES_BY_WORD = {word: state for state, word in _STAT_WORDS.items()}

_FIELD = re.compile(
    r"(id|sub|dlvrd|submit date|done date|stat|err|text):", re.IGNORECASE
)


class ReceiptError(ValueError):
    """A deliver_sm claimed to be a receipt but cannot be read as one."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an SMSC reported about one message it accepted."""

    message_id: str
    state: MessageState
    error: str = "000"
    submitted: int = 1
    delivered: int = 0
    submit_date: str = ""
    """YYMMDDhhmm, as the SMSC wrote it."""
    done_date: str = ""
    text: str = ""
    """The first characters of the message, when the SMSC includes them."""

    @property
    def status(self) -> DeliveryStatus | None:
        """The final outcome, or None while the message is still on its way."""
        if self.state in (MessageState.DELIVERED, MessageState.ACCEPTED):
            return DeliveryStatus.DELIVERED
        if self.state is MessageState.EXPIRED:
            return DeliveryStatus.EXPIRED
        if self.state is MessageState.ENROUTE:
            return None
        return DeliveryStatus.FAILED


def is_receipt(pdu: DeliverSm) -> bool:
    """Whether the deliver_sm carries a delivery receipt (§5.2.12 bits 5-2)."""
    return pdu.esm_class & MESSAGE_TYPE_MASK == EsmClass.DELIVERY_RECEIPT


def format_receipt(receipt: Receipt) -> str:
    """The Appendix B text of `receipt`."""
    return (
        f"id:{receipt.message_id} sub:{receipt.submitted:03d} "
        f"dlvrd:{receipt.delivered:03d} submit date:{receipt.submit_date} "
        f"done date:{receipt.done_date} stat:{_STAT_WORDS[receipt.state]} "
        f"err:{receipt.error} text:{receipt.text}"
    )


def parse_receipt_text(text: str) -> Receipt:
    """Read the Appendix B receipt text; fields may come in any case and order."""
    marks = list(_FIELD.finditer(text))
    values: dict[str, str] = {}
    for index, mark in enumerate(marks):
        key = mark.group(1).lower()
        if key in values:
            continue
        end = len(text) if index + 1 == len(marks) else marks[index + 1].start()
        # The text field runs to the end: it may itself contain `word:`.
        if key == "text":
            values[key] = text[mark.end() :]
            break
        values[key] = text[mark.end() : end].strip()

    message_id = values.get("id", "")
    if not message_id:
        raise ReceiptError("delivery receipt: no id field")
    word = values.get("stat", "").upper()
    state = _STATES_BY_WORD.get(word)
    if state is None:
        raise ReceiptError(f"delivery receipt: unknown stat {word!r}")
    return Receipt(
        message_id=message_id,
        state=state,
        error=values.get("err", "000"),
        submitted=_count(values.get("sub", "")),
        delivered=_count(values.get("dlvrd", "")),
        submit_date=values.get("submit date", ""),
        done_date=values.get("done date", ""),
        text=values.get("text", ""),
    )


def _count(value: str) -> int:
    return int(value) if value.isdigit() else 0


def receipt_from_pdu(pdu: DeliverSm) -> Receipt:
    """The receipt a deliver_sm carries, TLVs first, then the text.

    Raises:
        ReceiptError: neither the TLVs nor the text say which message and state.
    """
    tlv_id = pdu.tlv_cstring(Tag.RECEIPTED_MESSAGE_ID)
    tlv_state = pdu.tlv_int(Tag.MESSAGE_STATE)
    parsed: Receipt | None = None
    try:
        parsed = parse_receipt_text(pdu.short_message.decode("latin-1"))
    except ReceiptError:
        if tlv_id is None or tlv_state is None:
            raise

    state: MessageState | None = None
    if tlv_state is not None:
        try:
            state = MessageState(tlv_state)
        except ValueError:
            raise ReceiptError(
                f"delivery receipt: unknown message_state {tlv_state}"
            ) from None

    if parsed is None:
        if tlv_id is None or state is None:
            raise ReceiptError("delivery receipt: neither text nor TLVs readable")
        return Receipt(message_id=tlv_id, state=state)
    return Receipt(
        message_id=tlv_id or parsed.message_id,
        state=state or parsed.state,
        error=parsed.error,
        submitted=parsed.submitted,
        delivered=parsed.delivered,
        submit_date=parsed.submit_date,
        done_date=parsed.done_date,
        text=parsed.text,
    )
