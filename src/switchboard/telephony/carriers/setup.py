"""Builds the configured carriers for the composition root, and holds them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from switchboard.bus import Bus
from switchboard.config import Settings
from switchboard.core.clock import Clock
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import (
    Carrier,
    CarrierError,
    DeliveryReport,
    Inbound,
    InboundPart,
    InboundSms,
    NumberBlock,
)
from switchboard.telephony.carriers.smpp import SmppCarrier
from switchboard.telephony.carriers.virtual import VirtualCarrier, block_of

log = logging.getLogger(__name__)


def build_carriers(
    settings: Settings, db: Database, bus: Bus, clock: Clock
) -> list[Carrier]:
    """Every carrier the configuration asks for, not yet started."""
    carriers: list[Carrier] = []
    if settings.telephony.virtual_carrier:
        carriers.append(VirtualCarrier(db, bus, settings.telephony, clock))
    carriers.extend(SmppCarrier(link) for link in settings.telephony.smpp)
    return carriers


async def _refuse_sms(message: InboundSms) -> None:
    raise CarrierError(
        "this node has no SMS service to take the message", transient=True
    )


async def _refuse_part(part: InboundPart) -> None:
    await _refuse_sms(InboundSms(part.sender, part.recipient, "", part.at))


async def _drop_report(report: DeliveryReport) -> None:
    log.warning(
        "no SMS service takes delivery reports; dropped the report on %s",
        report.carrier_message_id,
    )


NO_SMS_SERVICE = Inbound(
    on_sms=_refuse_sms, on_part=_refuse_part, on_report=_drop_report
)
"""What carriers hand their traffic to when no SMS service set its handlers."""


class Carriers:
    """The node's carriers: started and stopped together, found by name or number."""

    def __init__(self, carriers: list[Carrier]) -> None:
        names = [carrier.name for carrier in carriers]
        if len(set(names)) != len(names):
            raise ValueError(f"two carriers share a name: {names}")
        self._carriers = {carrier.name: carrier for carrier in carriers}
        self._inbound: Inbound = NO_SMS_SERVICE
        self._started = False

    def set_inbound(self, inbound: Inbound) -> None:
        """Where every carrier hands incoming SMS and reports; before `start`."""
        if self._started:
            raise RuntimeError("the carriers are started; set the handlers before")
        self._inbound = inbound

    async def start(self) -> None:
        """Start every carrier with the inbound handlers."""
        self._started = True
        for carrier in self._carriers.values():
            await carrier.start(self._inbound)

    async def stop(self) -> None:
        """Stop every carrier; one failing to stop does not keep the others up."""
        for carrier in self._carriers.values():
            try:
                await carrier.stop()
            except Exception:
                log.exception("carrier %s did not stop cleanly", carrier.name)
        self._started = False

    def __iter__(self) -> Iterator[Carrier]:
        return iter(list(self._carriers.values()))

    def get(self, name: str) -> Carrier | None:
        """The carrier with this name, or None."""
        return self._carriers.get(name)

    def blocks(self) -> list[NumberBlock]:
        """Every number block of every carrier."""
        return [b for c in self._carriers.values() for b in c.number_blocks()]

    def for_number(self, number: str) -> Carrier | None:
        """The carrier whose blocks hold `number` (E.164), or None."""
        block = block_of(self.blocks(), number)
        return None if block is None else self._carriers.get(block.carrier)

    @property
    def virtual(self) -> VirtualCarrier | None:
        """The virtual network, when it runs on this node."""
        for carrier in self._carriers.values():
            if isinstance(carrier, VirtualCarrier):
                return carrier
        return None
