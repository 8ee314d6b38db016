"""The virtual carrier: a simulated phone network for development and tests.

It offers number ranges set aside for fiction and treats every other number as
a virtual handset. A message Switchboard submits lands on the recipient handset
and, after a delay, takes an outcome (delivered, failed or expired) that is
reported back like a real network's delivery receipt; a handset can text a
Switchboard number. Handsets and their conversations are stored in the database,
so every node and every restart shows the same network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import uuid

from sqlalchemy.exc import SQLAlchemyError

from switchboard.bus import Bus, Subscription
from switchboard.bus.base import Message
from switchboard.config import TelephonySettings
from switchboard.core.clock import Clock
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import (
    CarrierError,
    DeliveryReport,
    DeliveryStatus,
    Inbound,
    InboundSms,
    NumberBlock,
    NumberType,
    OutboundSms,
)
from switchboard.telephony.carriers.virtual_store import (
    Direction,
    Handset,
    HandsetMessage,
    MessageStatus,
    VirtualStore,
)

log = logging.getLogger(__name__)

TOPIC = "virtual-phone"
"""Bus topic on which nodes announce that a handset's conversation changed."""

MAX_TEXT_CHARS = 1600
"""Longest text a handset may send, about ten concatenated parts."""

LEASE_S = 30.0
"""How long a node holds a due report; a report its handler refused is retried
after this."""

SWEEP_S = 2.0
"""How often a node looks for reports due that it did not schedule itself (those
of other nodes, or left over from before a restart)."""

STOP_GRACE_S = 5.0
"""How long a stop waits for the report under way before cutting it off."""

_BATCH = 100
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_BOTH = "inbound+outbound"

_REPORT_STATUS = {
    MessageStatus.DELIVERED: DeliveryStatus.DELIVERED,
    MessageStatus.FAILED: DeliveryStatus.FAILED,
    MessageStatus.EXPIRED: DeliveryStatus.EXPIRED,
}


class HandsetError(ValueError):
    """A handset cannot send what it was asked to; the message says why."""


def virtual_blocks(carrier: str) -> list[NumberBlock]:
    """The fictional ranges the virtual network offers to Switchboard.

    NANP keeps 555-0100 to 555-0199 for fiction in every area code; Ofcom keeps
    020 7946 0000-0999 and 07700 900000-900999 for drama.
    """
    return [
        NumberBlock(
            carrier, "US", NumberType.GEOGRAPHIC, "+14255550100", 100, _BOTH, _BOTH,
            1.0, area_code="425", locality="Redmond",
        ),
        NumberBlock(
            carrier, "US", NumberType.GEOGRAPHIC, "+12065550100", 100, _BOTH, _BOTH,
            1.0, area_code="206", locality="Seattle",
        ),
        NumberBlock(
            carrier, "US", NumberType.TOLL_FREE, "+18005550100", 100, _BOTH, _BOTH,
            2.0, area_code="800",
        ),
        NumberBlock(
            carrier, "GB", NumberType.GEOGRAPHIC, "+442079460000", 1000, "none",
            _BOTH, 1.0, area_code="20", locality="London",
        ),
        NumberBlock(
            carrier, "GB", NumberType.MOBILE, "+447700900000", 1000, _BOTH, _BOTH,
            1.5, area_code="7700",
        ),
    ]  # fmt: skip


def block_of(blocks: list[NumberBlock], number: str) -> NumberBlock | None:
    """The block holding `number` (E.164), or None."""
    for block in blocks:
        if len(block.first) != len(number) or not number[1:].isdigit():
            continue
        offset = int(number[1:]) - int(block.first[1:])
        if 0 <= offset < block.count:
            return block
    return None


def is_e164(number: str) -> bool:
    """True for `+` and 7 to 15 digits, the first not 0."""
    return _E164.fullmatch(number) is not None


class VirtualCarrier:
    """The simulated network: number blocks, handsets and delivery reports."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        settings: TelephonySettings,
        clock: Clock,
        *,
        name: str = "virtual",
        rng: random.Random | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        self.name = name
        self.store = VirtualStore(db)
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._lease_s = lease_s
        self._blocks = virtual_blocks(name)
        self._inbound: Inbound | None = None
        self._subscription: Subscription | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        # Long polls wait on this; each change replaces it after setting it.
        self._changed = asyncio.Event()
        self._node = uuid.uuid4().hex[:8]
        self._generation = 0

    def number_blocks(self) -> list[NumberBlock]:
        """The fictional ranges this network offers."""
        return list(self._blocks)

    def owns(self, number: str) -> bool:
        """True when `number` is one of the Switchboard numbers of this network."""
        return block_of(self._blocks, number) is not None

    async def start(self, inbound: Inbound) -> None:
        """Begin settling due messages and handing reports and texts to `inbound`."""
        if self._reporter is not None:
            raise RuntimeError("the virtual carrier is already started")
        self._inbound = inbound
        self._subscription = await self._bus.subscribe(TOPIC, self._on_bus)
        self._reporter = asyncio.create_task(self._run_reports())
        log.info("virtual carrier %s started", self.name)

    async def stop(self) -> None:
        """Finish the report under way, then stop; what is due waits for a start."""
        reporter, self._reporter = self._reporter, None
        if reporter is not None:
            self._stopping = True
            self._wake.set()
            done, _ = await asyncio.wait({reporter}, timeout=STOP_GRACE_S)
            if not done:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            self._stopping = False
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        # Waiting polls answer now rather than hold the listeners open.
        self._bump()
        log.info("virtual carrier %s stopped", self.name)

    async def submit(self, message: OutboundSms) -> str:
        """Put the message on the recipient handset; returns the network's id."""
        sender, recipient = message.sender, message.recipient
        sending = block_of(self._blocks, sender)
        if sending is None or "outbound" not in sending.sms:
            raise CarrierError(
                f"{sender} is not a number of the virtual network that sends SMS",
                transient=False,
            )
        if not is_e164(recipient):
            raise CarrierError(
                f"{recipient!r} is not an E.164 phone number", transient=False
            )
        if self.owns(recipient):
            raise CarrierError(
                f"{recipient} is a Switchboard number; the virtual network does not "
                "route messages back to Switchboard",
                transient=False,
            )
        suffix = recipient[-2:]
        if suffix == "97":
            raise CarrierError(
                "the network is congested (test number ending in 97)", transient=True
            )
        if suffix == "96":
            raise CarrierError(
                f"{recipient} is not in service (test number ending in 96)",
                transient=False,
            )

        # Store the message with its outcome drawn now, due after the delay.
        outcome, detail = self._outcome(recipient)
        now = self._clock()
        pending = HandsetMessage(
            seq=0,
            id=f"vm-{uuid.uuid4().hex}",
            handset=recipient,
            peer=sender,
            direction=Direction.TO_HANDSET,
            text=message.text,
            status=MessageStatus.PENDING,
            outcome=outcome.value,
            detail=detail,
            report_requested=message.delivery_report,
            due_at=now + self._settings.virtual_report_delay_s,
            switchboard_id=message.message_id,
            created_at=now,
            settled_at=None,
        )
        try:
            stored = await self.store.add(pending)
        except SQLAlchemyError as exc:
            raise CarrierError(
                f"the virtual network could not store the message: {exc}",
                transient=True,
            ) from exc
        log.debug(
            "virtual %s: %s to %s stored, outcome %s",
            stored.id,
            message.message_id,
            recipient,
            outcome,
        )
        self._wake.set()
        await self._announce(recipient)
        return stored.id

    def _outcome(self, recipient: str) -> tuple[MessageStatus, str]:
        """What will become of a message: fixed for test numbers, else drawn."""
        if recipient.endswith("99"):
            return MessageStatus.FAILED, "the handset refused the message (test number)"
        if recipient.endswith("98"):
            return (
                MessageStatus.EXPIRED,
                "the handset stayed unreachable until the message expired "
                "(test number)",
            )
        roll = self._rng.random()
        failure = self._settings.virtual_failure_rate
        if roll < failure:
            return MessageStatus.FAILED, "the network could not deliver the message"
        if roll < failure + self._settings.virtual_expiry_rate:
            return (
                MessageStatus.EXPIRED,
                "the handset stayed unreachable until the message expired",
            )
        return MessageStatus.DELIVERED, "delivered to the handset"

    async def send_from_handset(
        self, handset: str, recipient: str, text: str
    ) -> HandsetMessage:
        """Text a Switchboard number from a handset and hand it to Switchboard.

        Raises HandsetError when the numbers or the text are not sendable.
        """
        if self._inbound is None:
            raise RuntimeError("the virtual carrier is not started")
        self._check_handset(handset)
        block = block_of(self._blocks, recipient)
        if block is None:
            raise HandsetError(
                f"{recipient} is not a Switchboard number on the virtual network"
            )
        if "inbound" not in block.sms:
            raise HandsetError(f"{recipient} does not receive SMS")
        if not text:
            raise HandsetError("the text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise HandsetError(
                f"the text is {len(text)} characters long; the most a handset sends "
                f"is {MAX_TEXT_CHARS}"
            )

        # Store it first, so the handset shows it whatever Switchboard answers.
        now = self._clock()
        stored = await self.store.add(
            HandsetMessage(
                seq=0,
                id=f"vm-{uuid.uuid4().hex}",
                handset=handset,
                peer=recipient,
                direction=Direction.FROM_HANDSET,
                text=text,
                status=MessageStatus.SENDING,
                outcome="",
                detail="",
                report_requested=False,
                due_at=None,
                switchboard_id="",
                created_at=now,
                settled_at=None,
            )
        )
        await self._announce(handset)

        # Hand it to Switchboard; its handler stores it before returning.
        status, detail = MessageStatus.RECEIVED, "Switchboard received the message"
        try:
            await self._inbound.on_sms(InboundSms(handset, recipient, text, now))
        except Exception as exc:
            log.warning(
                "virtual %s: Switchboard refused a text from %s to %s: %s",
                stored.id,
                handset,
                recipient,
                exc,
            )
            status, detail = MessageStatus.REFUSED, f"Switchboard refused it: {exc}"
        await self.store.settle(
            stored.id, MessageStatus.SENDING, status, detail, self._clock()
        )
        await self._announce(handset)
        settled = await self.store.message(stored.id)
        assert settled is not None
        return settled

    def _check_handset(self, number: str) -> None:
        if not is_e164(number):
            raise HandsetError(f"{number!r} is not an E.164 phone number")
        if self.owns(number):
            raise HandsetError(f"{number} is a Switchboard number, not a handset")

    async def add_handset(self, number: str) -> tuple[Handset, bool]:
        """Put a handset on the network; True when it is new."""
        self._check_handset(number)
        handset, created = await self.store.ensure_handset(number, self._clock())
        if created:
            await self._announce(number)
        return handset, created

    async def handsets(
        self, limit: int, per_handset: int
    ) -> list[tuple[Handset, list[HandsetMessage]]]:
        """The most recently active handsets with the newest of their messages."""
        handsets = await self.store.handsets(limit)
        messages = await self.store.messages([h.number for h in handsets], per_handset)
        by_handset: dict[str, list[HandsetMessage]] = {h.number: [] for h in handsets}
        for message in messages:
            by_handset[message.handset].append(message)
        return [(h, by_handset[h.number]) for h in handsets]

    async def conversation(
        self, number: str, limit: int
    ) -> tuple[Handset, list[HandsetMessage]] | None:
        """One handset with the newest `limit` of its messages, or None."""
        handset = await self.store.handset(number)
        if handset is None:
            return None
        return handset, await self.store.messages([number], limit)

    # Delivery reports

    async def _run_reports(self) -> None:
        """Settle due messages, then sleep until the next is due or a sweep."""
        while not self._stopping:
            try:
                await self._settle_due()
                upcoming = await self.store.next_due(self._clock())
            except Exception:
                log.exception("virtual carrier %s could not settle reports", self.name)
                upcoming = None
            wait = SWEEP_S
            if upcoming is not None:
                wait = min(SWEEP_S, max(0.0, upcoming - self._clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def _settle_due(self) -> None:
        now = self._clock()
        for message in await self.store.due(now, _BATCH):
            if self._stopping:
                return
            if await self.store.claim(message.id, now, self._lease_s):
                await self._settle(message)

    async def _settle(self, message: HandsetMessage) -> None:
        """Give a due message its outcome on the handset, then report it if asked.

        The handset shows the outcome at once; the report stays due until the
        handler took it, so a refused report is offered again.
        """
        outcome = MessageStatus(message.outcome)
        moved = await self.store.settle(
            message.id,
            MessageStatus.PENDING,
            outcome,
            message.detail,
            self._clock(),
            report_due=message.report_requested,
        )
        if moved:
            log.debug("virtual %s: %s", message.id, outcome)
            await self._announce(message.handset)
        if not message.report_requested:
            return

        assert self._inbound is not None
        report = DeliveryReport(
            message.id, _REPORT_STATUS[outcome], message.detail, self._clock()
        )
        try:
            await self._inbound.on_report(report)
        except Exception as exc:
            log.warning(
                "virtual %s: the report handler failed, retrying in %.0f s: %s",
                message.id,
                self._lease_s,
                exc,
            )
            return
        await self.store.reported(message.id)

    # Change notifications for the page

    async def _announce(self, handset: str) -> None:
        """Tell every node's long polls that a handset's conversation changed."""
        try:
            await self._bus.publish(TOPIC, {"handset": handset})
        except Exception as exc:
            log.warning("virtual carrier could not announce a change: %s", exc)
            self._bump()

    async def _on_bus(self, message: Message) -> None:
        self._bump()

    def _bump(self) -> None:
        self._generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def generation(self) -> str:
        """An opaque mark of what this node has seen change so far."""
        return f"{self._node}.{self._generation}"

    async def wait_for_change(self, since: str, timeout_s: float) -> None:
        """Return once something changed after `since`, or after the timeout.

        A mark from another node, or from before a restart, counts as changed.
        """
        node, _, count = since.partition(".")
        if node != self._node or not count.isdigit():
            return
        if self._generation > int(count):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
