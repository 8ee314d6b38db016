"""The SMPP 3.4 carrier: one transceiver link to an SMSC, as the ESME.

The link connects, binds and, when it drops, connects again with backoff. A
submission codes the text (`telephony.gsm`), sends one submit_sm per part and
returns the SMSC's message id of the last part, the one that carries the
delivery receipt request. Each part is tried up to `submit_attempts` times
inside the carrier: after ESME_RTHROTTLED the whole link pauses (doubling the
pause while the SMSC keeps throttling), after another transient status it
backs off, and after a lost link or a missing answer it waits for the next
bind and sends the part again. Only when those tries run out does `submit`
raise a transient CarrierError for the caller to retry later; the parts the
SMSC already took are remembered, so that retry sends only the rest.

A part whose answer never came (the link dropped or the answer timed out) may
have been taken by the SMSC all the same; it is sent again, so the recipient
can get it twice. SMPP 3.4 offers no way to tell, see docs/smpp.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass

from switchboard.config import SmppLinkSettings
from switchboard.telephony import gsm
from switchboard.telephony.carriers.base import (
    CarrierError,
    DeliveryReport,
    Inbound,
    InboundSms,
    NumberBlock,
    NumberType,
    OutboundSms,
    text_of,
)
from switchboard.telephony.smpp.pdu import (
    CommandStatus,
    DeliverSm,
    EsmClass,
    Npi,
    SubmitSm,
    SubmitSmResp,
    Ton,
    status_name,
)
from switchboard.telephony.smpp.receipts import (
    ReceiptError,
    is_receipt,
    receipt_from_pdu,
)
from switchboard.telephony.smpp.session import (
    BindRefused,
    EsmeSession,
    LinkClosed,
    RequestTimeout,
    SessionState,
)
from switchboard.telephony.smpp.userdata import read_part, short_message

logger = logging.getLogger(__name__)

# Statuses after which the same part may well be taken a moment later.
TRANSIENT_STATUSES = frozenset(
    {
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RINVBNDSTS,
    }
)
_MAX_THROTTLE_PAUSE_S = 30.0
_MAX_REMEMBERED = 10_000
_UNBIND_TIMEOUT_S = 2.0


@dataclass
class _Progress:
    """The parts of one message the SMSC has taken so far."""

    reference: int
    ids: list[str | None]


class SmppCarrier:
    """A carrier reached over one SMPP 3.4 transceiver link."""

    def __init__(self, settings: SmppLinkSettings) -> None:
        self.name = settings.name
        self._settings = settings
        self._inbound: Inbound | None = None
        self._session: EsmeSession | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._last_error = "not started"
        self._reference = random.randrange(256)
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self._resume_at = 0.0
        self._throttle_streak = 0

    def number_blocks(self) -> list[NumberBlock]:
        """The numbers this link serves, as configured."""
        return [
            NumberBlock(
                carrier=self.name,
                country=block.country,
                number_type=NumberType(block.number_type),
                first=block.first,
                count=block.count,
                sms=block.sms,
                calling=block.calling,
                monthly_cost=block.monthly_cost,
                currency=block.currency,
                area_code=block.area_code,
                locality=block.locality,
            )
            for block in self._settings.blocks
        ]

    @property
    def bound(self) -> bool:
        """Whether the link is bound right now."""
        return self._bound.is_set()

    @property
    def last_error(self) -> str:
        """Why the link is not bound, or the last reason it was not."""
        return self._last_error

    # Lifecycle

    async def start(self, inbound: Inbound) -> None:
        """Begin connecting in the background; does not wait for the bind."""
        self._inbound = inbound
        self._stopping = False
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Unbind (SMPP 3.4 §4.2) and stop reconnecting."""
        self._stopping = True
        session = self._session
        if session is not None:
            await session.unbind(_UNBIND_TIMEOUT_S)
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        self._bound.clear()

    async def _run(self) -> None:
        delay = self._settings.reconnect_min_s
        while not self._stopping:
            if await self._connect_and_serve():
                delay = self._settings.reconnect_min_s
            if self._stopping:
                return

            # Backoff with jitter, so that many links do not return at once.
            wait = delay * random.uniform(0.5, 1.0)
            logger.info("smpp link %s: reconnecting in %.1f s", self.name, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self._settings.reconnect_max_s)

    async def _connect_and_serve(self) -> bool:
        """One connection's life; True when it got as far as being bound."""
        settings = self._settings
        try:
            async with asyncio.timeout(settings.bind_timeout_s):
                reader, writer = await asyncio.open_connection(
                    settings.host, settings.port
                )
        except (OSError, TimeoutError) as exc:
            self._last_error = (
                f"cannot connect to {settings.host}:{settings.port}: {exc}"
            )
            logger.warning("smpp link %s: %s", self.name, self._last_error)
            return False

        session = EsmeSession(
            reader,
            writer,
            link=self.name,
            window=settings.window,
            response_timeout_s=settings.response_timeout_s,
            enquire_interval_s=settings.enquire_interval_s,
            on_deliver=self._on_deliver,
        )
        try:
            await session.bind(
                system_id=settings.system_id,
                password=settings.password.get_secret_value(),
                system_type=settings.system_type,
                timeout_s=settings.bind_timeout_s,
            )
        except BindRefused as exc:
            self._last_error = str(exc)
            logger.error("smpp link %s: %s", self.name, exc)
            return False
        except LinkClosed as exc:
            self._last_error = f"bind failed: {exc}"
            logger.warning("smpp link %s: %s", self.name, self._last_error)
            return False
        except BaseException:
            await session.close()
            raise

        self._session = session
        self._last_error = ""
        self._bound.set()
        logger.info(
            "smpp link %s: bound to %s:%d as %s",
            self.name,
            settings.host,
            settings.port,
            settings.system_id,
        )
        try:
            await session.wait_closed()
        finally:
            self._bound.clear()
            self._session = None
            await session.close()
        self._last_error = "the link dropped"
        return True

    # Submitting

    async def submit(self, message: OutboundSms) -> str:
        """Send every part of `message`; returns the SMSC id of the last part."""
        encoded = gsm.encode(message.text)
        total = encoded.segments
        progress = self._progress.get(message.message_id)
        if progress is None or len(progress.ids) != total:
            self._reference = (self._reference + 1) % 256
            progress = _Progress(self._reference, [None] * total)
            self._remember(message.message_id, progress)

        for index, payload in enumerate(encoded.parts):
            if progress.ids[index] is not None:
                continue
            pdu = self._submit_pdu(message, encoded.coding, payload, progress, index)
            progress.ids[index] = await self._submit_part(message, pdu, index, total)

        del self._progress[message.message_id]
        return progress.ids[-1] or ""

    def _remember(self, message_id: str, progress: _Progress) -> None:
        self._progress[message_id] = progress
        while len(self._progress) > _MAX_REMEMBERED:
            self._progress.popitem(last=False)

    def _submit_pdu(
        self,
        message: OutboundSms,
        coding: gsm.Coding,
        payload: bytes,
        progress: _Progress,
        index: int,
    ) -> SubmitSm:
        total = len(progress.ids)
        udh = b""
        if total > 1:
            udh = gsm.concat_udh(progress.reference, total, index + 1)
        source_ton, source_npi, source = address(message.sender)
        dest_ton, dest_npi, destination = address(message.recipient)

        # SMPP 3.4 §4.4.1, §5.2.12 (UDHI) and §5.2.17 (receipt on final state).
        # Only the last part asks for a receipt, whose id `submit` returns, so
        # reports match messages without state here; an earlier part's
        # failure goes unreported.
        report = message.delivery_report and index == total - 1
        return SubmitSm(
            sequence=0,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=source,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            destination_addr=destination,
            esm_class=EsmClass.UDHI if udh else 0,
            registered_delivery=0x01 if report else 0x00,
            data_coding=coding,
            short_message=short_message(
                coding, payload, udh, packed=self._settings.gsm_packed
            ),
        )

    async def _submit_part(
        self, message: OutboundSms, pdu: SubmitSm, index: int, total: int
    ) -> str:
        attempts = self._settings.submit_attempts
        reason = ""
        for attempt in range(1, attempts + 1):
            session = await self._wait_bound()
            await self._wait_throttle()
            try:
                answer = await session.request(pdu, SubmitSmResp)
            except (LinkClosed, RequestTimeout) as exc:
                reason = str(exc)
                logger.info(
                    "smpp link %s: %s part %d/%d try %d: %s; sending again",
                    self.name,
                    message.message_id,
                    index + 1,
                    total,
                    attempt,
                    reason,
                )
                continue

            if answer.status == CommandStatus.ESME_ROK:
                self._throttle_streak = 0
                return answer.message_id

            reason = f"the SMSC answered {status_name(answer.status)}"
            if answer.status not in TRANSIENT_STATUSES:
                raise CarrierError(f"smpp link {self.name}: {reason}", transient=False)
            if answer.status == CommandStatus.ESME_RTHROTTLED:
                self._throttled()
            else:
                await asyncio.sleep(self._settings.throttle_backoff_s * attempt)
            logger.info(
                "smpp link %s: %s part %d/%d try %d: %s",
                self.name,
                message.message_id,
                index + 1,
                total,
                attempt,
                reason,
            )

        raise CarrierError(
            f"smpp link {self.name}: part {index + 1}/{total} not taken after "
            f"{attempts} tries: {reason}",
            transient=True,
        )

    async def ready(self) -> None:
        """Wait until the link is bound; CarrierError after `submit_wait_s`."""
        await self._wait_bound()

    async def _wait_bound(self) -> EsmeSession:
        try:
            async with asyncio.timeout(self._settings.submit_wait_s):
                while True:
                    await self._bound.wait()
                    session = self._session
                    if session is not None and session.state is SessionState.BOUND_TRX:
                        return session
                    # The link just dropped and the runner has not noticed yet.
                    if self._session is session:
                        self._bound.clear()
        except TimeoutError:
            raise CarrierError(
                f"smpp link {self.name} is not bound: {self._last_error}",
                transient=True,
            ) from None

    def _throttled(self) -> None:
        # The SMSC asks the whole link to slow down, not one message.
        pause = min(
            self._settings.throttle_backoff_s * 2**self._throttle_streak,
            _MAX_THROTTLE_PAUSE_S,
        )
        self._throttle_streak += 1
        now = asyncio.get_running_loop().time()
        self._resume_at = max(self._resume_at, now + pause)
        logger.info("smpp link %s: throttled; pausing %.2f s", self.name, pause)

    async def _wait_throttle(self) -> None:
        delay = self._resume_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    # What the SMSC delivers

    async def _on_deliver(self, pdu: DeliverSm) -> int:
        """Hand a deliver_sm on; the answer goes back only after this returns."""
        inbound = self._inbound
        if inbound is None:
            return CommandStatus.ESME_RX_T_APPN
        if is_receipt(pdu):
            return await self._on_receipt(pdu, inbound)

        sender = e164(pdu.source_addr)
        recipient = e164(pdu.destination_addr)
        try:
            part = read_part(
                pdu, sender, recipient, time.time(), packed=self._settings.gsm_packed
            )
            text = text_of([part]) if part.total == 1 else None
        except ValueError as exc:
            logger.warning("smpp link %s: unreadable SMS: %s", self.name, exc)
            return CommandStatus.ESME_RX_P_APPN
        if text is None:
            # Kept by the SMS service (stored before this answer goes back)
            # until the message's other parts come.
            await inbound.on_part(part)
        else:
            await inbound.on_sms(InboundSms(sender, recipient, text, part.at))
        return CommandStatus.ESME_ROK

    async def _on_receipt(self, pdu: DeliverSm, inbound: Inbound) -> int:
        try:
            receipt = receipt_from_pdu(pdu)
        except ReceiptError as exc:
            logger.warning("smpp link %s: %s", self.name, exc)
            return CommandStatus.ESME_RX_P_APPN

        status = receipt.status
        if status is None:
            return CommandStatus.ESME_ROK
        await inbound.on_report(
            DeliveryReport(
                carrier_message_id=receipt.message_id,
                status=status,
                detail=f"{receipt.state.name.lower()}, error {receipt.error}",
                at=time.time(),
            )
        )
        return CommandStatus.ESME_ROK


def address(number: str) -> tuple[int, int, str]:
    """TON, NPI and address digits for an E.164 number or an alphanumeric sender."""
    if number.startswith("+") and number[1:].isdigit():
        return Ton.INTERNATIONAL, Npi.ISDN, number[1:]
    if number.isdigit():
        return Ton.UNKNOWN, Npi.ISDN, number
    return Ton.ALPHANUMERIC, Npi.UNKNOWN, number


def e164(address: str) -> str:
    """A received address as E.164: digits are taken to be international."""
    if address.isdigit():
        return "+" + address
    return address
