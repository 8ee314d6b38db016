"""Sending SMS from the resource's numbers, and taking in what carriers hand back."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import phonenumbers
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.config import SmsSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import (
    AcsError,
    ErrorCode,
    bad_request,
    forbidden,
    unauthorized,
)
from switchboard.core.ratelimit import Budget, RateLimiter
from switchboard.events.outbox import EventOutbox
from switchboard.numbers.directory import NumberDirectory
from switchboard.sms import acs_events, store
from switchboard.sms.records import (
    OutboundMessage,
    OutboundState,
    Recipient,
    SendResult,
    incoming_id,
    outgoing_id,
    transition,
)
from switchboard.storage.engine import Database
from switchboard.telephony import gsm
from switchboard.telephony.carriers.base import (
    DeliveryReport,
    DeliveryStatus,
    Inbound,
    InboundPart,
    InboundSms,
    text_of,
)

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100
MAX_MESSAGE_CHARS = 2048
"""WIRE.md §2.3: the spec's limits on one send request."""
PART_MAX_AGE_S = 600.0
"""How long the parts of a long incoming message wait for the rest."""

_FINAL = {
    DeliveryStatus.DELIVERED: OutboundState.DELIVERED,
    DeliveryStatus.FAILED: OutboundState.FAILED,
    DeliveryStatus.EXPIRED: OutboundState.EXPIRED,
}


def e164(value: str, *, strict: bool = True) -> str | None:
    """`value` as an E.164 number, or None when it is not a phone number.

    Strict, the number must be in a range its country assigns; otherwise only
    its length must fit the country, which lets the resource's own numbers in
    ranges kept for fiction (such as the virtual network's) through.
    """
    if not value.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not check(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _has(capability: str, direction: str) -> bool:
    return direction in capability.split("+")


def _first_sent_ok(value: str | None) -> bool:
    if value is None:
        return True
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class RecipientRequest:
    """One entry of `smsRecipients` as the client sent it."""

    to: str
    repeatability_id: str | None = None
    first_sent: str | None = None


@dataclass(frozen=True, slots=True)
class _Receiving:
    """A number of this resource that takes incoming SMS, and its carrier."""

    number: str
    carrier: str


class SmsService:
    """Accepts messages into the send queue and stores what comes back."""

    def __init__(
        self,
        db: Database,
        numbers: NumberDirectory,
        limiter: RateLimiter,
        outbox: EventOutbox,
        wake_sender: Callable[[], Awaitable[None]],
        settings: SmsSettings,
        clock: Clock,
    ) -> None:
        self._db = db
        self._numbers = numbers
        self._limiter = limiter
        self._outbox = outbox
        self._wake_sender = wake_sender
        self._settings = settings
        self._clock = clock
        self._next_part_sweep = 0.0

    # Sending

    async def send(
        self,
        sender: str,
        recipients: Sequence[RecipientRequest],
        text: str,
        *,
        delivery_report: bool,
        tag: str,
    ) -> list[SendResult]:
        """Queue one message per valid recipient; returns each recipient's result.

        Raises:
            AcsError: the request as a whole is refused (400, 401, 403, 429).
        """
        if not 1 <= len(recipients) <= MAX_RECIPIENTS:
            raise bad_request(
                f"smsRecipients must hold 1 to {MAX_RECIPIENTS} recipients, "
                f"not {len(recipients)}",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="smsRecipients",
            )
        if len(text) > MAX_MESSAGE_CHARS:
            raise bad_request(
                f"message is {len(text)} characters long; at most "
                f"{MAX_MESSAGE_CHARS} are allowed",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="message",
            )
        carrier = await self._sender_carrier(sender)
        number = e164(sender, strict=False)
        assert number is not None
        await self._limiter.enforce(
            [
                Budget(
                    f"sms:number:{number}",
                    self._settings.number_requests,
                    self._settings.rate_window_s,
                )
            ],
            f"sender {number}",
        )

        checked = [self._check_recipient(r) for r in recipients]
        segments = gsm.encode(text).segments
        fingerprint = {
            "from": number,
            "message": text,
            "report": delivery_report,
            "tag": tag,
        }

        # A concurrent request with the same repeatability id may win the
        # insert; the second pass then finds its row and answers from it.
        for _ in range(2):
            try:
                results, queued = await self._queue(
                    checked, number, carrier, text, segments, fingerprint,
                    delivery_report, tag,
                )  # fmt: skip
            except IntegrityError:
                log.info("SMS from %s: repeatability id raced; rereading", number)
                continue
            break
        else:
            raise AcsError(
                409, ErrorCode.CONFLICT, "a repeatability id is being used concurrently"
            )

        if queued:
            await self._wake_sender()
        accepted = sum(1 for r in results if r.successful)
        log.info(
            "SMS from %s: %d of %d recipients accepted",
            number, accepted, len(results),
        )  # fmt: skip
        return results

    async def _sender_carrier(self, sender: str) -> str:
        """The carrier of the sender number, which must be ours and send SMS."""
        number = e164(sender, strict=False)
        if number is None:
            raise bad_request(
                f"from: {sender!r} is not a valid E.164 phone number",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="from",
            )
        owned = await self._numbers.owned(number)
        if owned is None:
            # ACS answers 401 when the sender is not one of the resource's numbers.
            raise unauthorized(f"the number {number} does not belong to this resource")
        if not _has(owned.sms, "outbound"):
            raise forbidden(
                f"the number {number} has no outbound SMS capability "
                f"(its SMS capability is {owned.sms!r})"
            )
        return owned.carrier

    def _check_recipient(self, request: RecipientRequest) -> Recipient:
        number = e164(request.to)
        if number is None:
            return Recipient(
                request.to,
                None,
                request.repeatability_id,
                f"{request.to!r} is not a valid E.164 phone number",
            )
        if not _first_sent_ok(request.first_sent):
            return Recipient(
                request.to,
                number,
                request.repeatability_id,
                "repeatabilityFirstSent is not an RFC 1123 date",
            )
        return Recipient(request.to, number, request.repeatability_id)

    async def _queue(
        self,
        recipients: list[Recipient],
        sender: str,
        carrier: str,
        text: str,
        segments: int,
        fingerprint: dict[str, object],
        delivery_report: bool,
        tag: str,
    ) -> tuple[list[SendResult], int]:
        """One transaction: answer repeats from what is stored, queue the rest.

        Returns the results and how many messages were newly queued.
        """
        now = self._clock()
        results: list[SendResult] = []
        queued: list[store.NewMessage] = []
        async with self._db.engine.begin() as conn:
            ids = [r.repeatability_id for r in recipients if r.repeatability_id]
            earlier = await store.repeats(conn, ids)
            seen: set[str] = set()
            for recipient in recipients:
                repeat_id = recipient.repeatability_id
                repeatability = "accepted" if repeat_id else None
                if recipient.number is None or recipient.error:
                    results.append(
                        SendResult(
                            recipient.to,
                            None,
                            400,
                            recipient.error,
                            "rejected" if repeat_id else None,
                        )
                    )
                    continue

                digest = _digest({**fingerprint, "to": recipient.number})
                previous = earlier.get(repeat_id) if repeat_id else None
                if previous is not None or (repeat_id and repeat_id in seen):
                    results.append(self._repeated(recipient, previous, digest))
                    continue

                message = OutboundMessage(
                    id=outgoing_id(now),
                    sender=sender,
                    recipient=recipient.number,
                    body=text,
                    tag=tag,
                    delivery_report=delivery_report,
                    segments=segments,
                    state=OutboundState.QUEUED,
                    carrier=carrier,
                    carrier_message_id=None,
                    attempts=0,
                    created_at=now,
                )
                if repeat_id:
                    seen.add(repeat_id)
                queued.append(store.NewMessage(message, repeat_id, digest))
                results.append(
                    SendResult(recipient.to, message.id, 202, "", repeatability)
                )
            await store.queue(conn, queued)
        for new in queued:
            log.debug("SMS %s queued for %s", new.message.id, new.message.carrier)
        return results, len(queued)

    @staticmethod
    def _repeated(
        recipient: Recipient, previous: store.Repeat | None, digest: str
    ) -> SendResult:
        """The answer to a recipient whose repeatability id was seen before."""
        if previous is None:
            return SendResult(
                recipient.to,
                None,
                400,
                "the repeatabilityRequestId appears twice in this request",
                "rejected",
            )
        if previous.request_hash != digest:
            return SendResult(
                recipient.to,
                None,
                409,
                "the repeatabilityRequestId was already used for a different message",
                "rejected",
            )
        return SendResult(recipient.to, previous.message_id, 202, "", "accepted")

    # What carriers hand back

    def inbound(self, carrier: str = "") -> Inbound:
        """The handlers a carrier hands incoming messages and reports to.

        Without a carrier name, reports are matched by the carrier's message id
        alone.
        """

        async def on_sms(sms: InboundSms) -> None:
            await self.receive(carrier, sms)

        async def on_part(part: InboundPart) -> None:
            await self.receive_part(carrier, part)

        async def on_report(report: DeliveryReport) -> None:
            await self.report(carrier, report)

        return Inbound(on_sms=on_sms, on_part=on_part, on_report=on_report)

    async def receive(self, carrier: str, sms: InboundSms) -> None:
        """Store a message a phone sent to one of our numbers, with its event."""
        recipient = await self._receiving_number(sms.sender, sms.recipient)
        if recipient is None:
            return
        async with self._db.engine.begin() as conn:
            message_id = await self._store_received(
                conn, carrier or recipient.carrier, sms, recipient.number
            )
        await self._outbox.committed()
        log.info(
            "SMS %s received from %s for %s", message_id, sms.sender, recipient.number
        )

    async def receive_part(self, carrier: str, part: InboundPart) -> None:
        """Keep one part of a long message; store the message once all are in.

        The part is in the database when this returns, and the whole message
        replaces its parts in one transaction, so a restart loses neither.
        """
        recipient = await self._receiving_number(part.sender, part.recipient)
        if recipient is None:
            return
        await self._sweep_parts()
        carrier = carrier or recipient.carrier
        async with self._db.engine.begin() as conn:
            parts = await store.add_part(conn, carrier, part)
            if parts is None:
                return
            try:
                text = text_of(parts)
            except ValueError as exc:
                log.warning(
                    "SMS from %s to %s dropped: its %d parts do not decode: %s",
                    part.sender, part.recipient, part.total, exc,
                )  # fmt: skip
                return
            sms = InboundSms(part.sender, part.recipient, text, parts[0].at)
            message_id = await self._store_received(
                conn, carrier, sms, recipient.number
            )
        await self._outbox.committed()
        log.info(
            "SMS %s received from %s for %s in %d parts",
            message_id, part.sender, recipient.number, part.total,
        )  # fmt: skip

    async def _receiving_number(self, sender: str, to: str) -> _Receiving | None:
        """The number a message is for, if this resource owns it and takes SMS."""
        recipient = e164(to, strict=False) or to
        owned = await self._numbers.owned(recipient)
        if owned is None or not _has(owned.sms, "inbound"):
            log.warning(
                "SMS from %s to %s dropped: not a number of this resource that "
                "receives SMS",
                sender, recipient,
            )  # fmt: skip
            return None
        return _Receiving(recipient, owned.carrier)

    async def _store_received(
        self, conn: AsyncConnection, carrier: str, sms: InboundSms, recipient: str
    ) -> str:
        message_id = incoming_id(sms.at)
        await store.add_inbound(
            conn, message_id, sms.sender, recipient, sms.text, carrier, sms.at
        )
        await self._outbox.emit(
            conn,
            [
                acs_events.sms_received(
                    message_id, sms.sender, recipient, sms.text, sms.at
                )
            ],
        )
        return message_id

    async def _sweep_parts(self) -> None:
        """Now and then, forget long messages whose other parts never came."""
        now = self._clock()
        if now < self._next_part_sweep:
            return
        self._next_part_sweep = now + PART_MAX_AGE_S / 10
        async with self._db.engine.begin() as conn:
            dropped = await store.drop_parts_before(conn, now - PART_MAX_AGE_S)
        for row in dropped:
            log.warning(
                "SMS %d from %s to %s dropped with %d of %d parts",
                row.reference, row.sender, row.recipient, row.parts, row.total,
            )  # fmt: skip

    async def report(self, carrier: str, report: DeliveryReport) -> None:
        """Keep a delivery report and apply it when its message is known."""
        async with self._db.engine.begin() as conn:
            await store.lock_carrier_id(conn, report.carrier_message_id)
            await store.add_report(
                conn,
                carrier,
                report.carrier_message_id,
                report.status.value,
                report.detail,
                report.at,
            )
            message = await store.by_carrier_id(
                conn, carrier, report.carrier_message_id
            )
            emitted = False
            if message is not None:
                emitted = await apply_reports(conn, message, self._outbox)
        if emitted:
            await self._outbox.committed()
        if message is None:
            log.info(
                "delivery report from %s for %s kept until its message is recorded",
                carrier, report.carrier_message_id,
            )  # fmt: skip


async def apply_reports(
    conn: AsyncConnection, message: OutboundMessage, outbox: EventOutbox
) -> bool:
    """Settle a submitted message by its waiting reports; True if an event was added.

    Runs in the caller's transaction: the report, the state change and the
    event are written together.
    """
    if message.carrier_message_id is None:
        return False
    reports = await store.pending_reports(
        conn, message.carrier, message.carrier_message_id
    )
    if not reports or message.state is OutboundState.QUEUED:
        return False

    await store.mark_applied(conn, [r.id for r in reports])
    if message.state is not OutboundState.SUBMITTED:
        # Settled already: a repeated report changes nothing.
        return False
    final = reports[-1]
    new = _FINAL.get(DeliveryStatus(final.status), OutboundState.FAILED)
    transition(message.id, message.state, new)
    moved = await store.move(
        conn,
        message.id,
        OutboundState.SUBMITTED,
        new,
        finished_at=final.at,
        status_detail=final.detail,
    )
    if not moved or not message.delivery_report:
        return False
    event = acs_events.delivery_report(message, new, final.detail, final.at)
    await outbox.emit(conn, [event])
    return True


def _digest(fields: dict[str, object]) -> str:
    data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()
