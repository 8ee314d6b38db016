"""The carrier interface: what the SMS and number services need from a carrier.

A carrier owns blocks of numbers and moves text messages between Switchboard and
phones. The virtual carrier simulates a network; the SMPP carrier talks to a
real SMSC. Services depend on this module only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from switchboard.telephony import gsm


class NumberType(StrEnum):
    """Phone number types, as the ACS phone numbers API names them."""

    GEOGRAPHIC = "geographic"
    TOLL_FREE = "tollFree"
    MOBILE = "mobile"


@dataclass(frozen=True, slots=True)
class NumberBlock:
    """A contiguous range of numbers a carrier offers, with what they can do."""

    carrier: str
    country: str
    """ISO 3166 alpha-2 code, e.g. `US`."""
    number_type: NumberType
    first: str
    """The first number of the block in E.164, e.g. `+14255550100`."""
    count: int
    sms: str
    """SMS capability offered: `none`, `inbound`, `outbound` or `inbound+outbound`."""
    calling: str
    """Calling capability offered, the same values."""
    monthly_cost: float
    currency: str = "USD"
    area_code: str = ""
    locality: str = ""


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """A message for a carrier to deliver."""

    message_id: str
    """Switchboard's id (`Outgoing_...`), for logs and reports."""
    sender: str
    recipient: str
    text: str
    delivery_report: bool


class DeliveryStatus(StrEnum):
    """What finally happened to a submitted message."""

    DELIVERED = "Delivered"
    FAILED = "Failed"
    EXPIRED = "Expired"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A carrier's report on a message it accepted."""

    carrier_message_id: str
    status: DeliveryStatus
    detail: str
    at: float


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A message a phone sent to one of the carrier's numbers."""

    sender: str
    recipient: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One part of a long message a phone sent, still coded as it arrived.

    Parts of one message share sender, recipient, `reference` and `total`
    (3GPP TS 23.040 §9.2.3.24.1); `sequence` runs from 1 to `total`.
    """

    sender: str
    recipient: str
    reference: int
    total: int
    sequence: int
    data_coding: int
    payload: bytes
    """Unpacked septets for GSM 7-bit, raw octets for every other coding."""
    at: float


def text_of(parts: Sequence[InboundPart]) -> str:
    """The text of a message from its parts in order.

    Payloads are joined before decoding, so an escape or a surrogate pair that
    the sender's cut left across two parts still decodes.

    Raises:
        ValueError: the parts disagree on the coding, or the bytes do not decode.
    """
    codings = {part.data_coding for part in parts}
    if len(codings) != 1:
        raise ValueError("SMS concatenation: parts use different data codings")
    return gsm.decode(b"".join(part.payload for part in parts), codings.pop())


class CarrierError(Exception):
    """A submission failed; `transient` says whether trying again may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Inbound:
    """Where a carrier hands what arrives from the network.

    `on_part` takes one part of a concatenated message; the receiver keeps the
    parts durably and puts the message together once every part is in.
    """

    on_sms: Callable[[InboundSms], Awaitable[None]]
    on_part: Callable[[InboundPart], Awaitable[None]]
    on_report: Callable[[DeliveryReport], Awaitable[None]]


class Carrier(Protocol):
    """A way to the phone network."""

    name: str

    def number_blocks(self) -> list[NumberBlock]:
        """The numbers this carrier offers."""
        ...

    async def start(self, inbound: Inbound) -> None:
        """Connect and begin handing incoming messages and reports to `inbound`.

        Handlers must have stored what they are given before they return: the
        carrier acknowledges to the network only after that.
        """
        ...

    async def submit(self, message: OutboundSms) -> str:
        """Hand a message to the network; returns the carrier's message id.

        Raises CarrierError; a transient one is retried by the caller.
        """
        ...

    async def stop(self) -> None:
        """Disconnect."""
        ...
