"""The sender: hands queued messages to their carriers, on every node.

Nodes share the queue through the database: each claims due messages for the
carriers it has under a lease, submits them, and records the outcome. A
transient carrier error puts the message back with a backoff; the last attempt,
or a permanent error, fails it (with a delivery report event when one was
asked for). A node that dies mid-submission leaves its lease to run out, so the
message is submitted again by another node: at least once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from switchboard.bus import Bus
from switchboard.config import SmsSettings
from switchboard.core.clock import Clock
from switchboard.core.worker import Worker
from switchboard.events.dispatcher import backoff_s
from switchboard.events.outbox import EventOutbox
from switchboard.sms import acs_events, store
from switchboard.sms.records import OutboundMessage, OutboundState, transition
from switchboard.sms.service import apply_reports
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import Carrier, CarrierError, OutboundSms

log = logging.getLogger(__name__)

WAKE_TOPIC = "sms.wake"
"""Bus topic: messages were queued."""


class CarrierSet(Protocol):
    """The node's carriers, by name."""

    def get(self, name: str) -> Carrier | None:
        """The carrier with this name, or None."""
        ...

    def __iter__(self) -> Iterator[Carrier]: ...


class SmsSender(Worker):
    """Submits queued messages to carriers with retries; one per node."""

    def __init__(
        self,
        db: Database,
        carriers: CarrierSet,
        outbox: EventOutbox,
        bus: Bus,
        settings: SmsSettings,
        clock: Clock,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(bus, WAKE_TOPIC, settings.poll_interval_s, "sms-sender")
        self._db = db
        self._carriers = carriers
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._rng = random.Random()
        self._outcomes = Counter(
            "switchboard_sms_submissions",
            "Attempts to hand an SMS to its carrier, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._delay = Histogram(
            "switchboard_sms_submit_delay_seconds",
            "Time from accepting an SMS to its carrier taking it.",
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )

    async def run_once(self) -> bool:
        """One round: claim due messages and submit them; True if there were any."""
        names = [carrier.name for carrier in self._carriers]
        if not names:
            return False
        now = self._clock()
        async with self._db.engine.begin() as conn:
            claimed = await store.claim(
                conn,
                names,
                now,
                self._settings.lease_s,
                self._settings.batch_size,
                skip_locked=not self._db.is_sqlite,
            )
        if not claimed:
            return False
        await asyncio.gather(*(self._submit(message) for message in claimed))
        return True

    async def _submit(self, message: OutboundMessage) -> None:
        carrier = self._carriers.get(message.carrier)
        assert carrier is not None, "claimed only for this node's carriers"
        outbound = OutboundSms(
            message_id=message.id,
            sender=message.sender,
            recipient=message.recipient,
            text=message.body,
            delivery_report=message.delivery_report,
        )
        try:
            carrier_id = await carrier.submit(outbound)
        except CarrierError as exc:
            await self._failed_attempt(message, str(exc), transient=exc.transient)
            return
        except Exception as exc:
            # A fault inside a carrier is ours, not the message's: keep trying.
            log.exception("SMS %s: carrier %s raised", message.id, message.carrier)
            await self._failed_attempt(message, repr(exc), transient=True)
            return
        await self._submitted(message, carrier_id)

    async def _submitted(self, message: OutboundMessage, carrier_id: str) -> None:
        now = self._clock()
        transition(message.id, message.state, OutboundState.SUBMITTED)
        async with self._db.engine.begin() as conn:
            await store.lock_carrier_id(conn, carrier_id)
            moved = await store.move(
                conn,
                message.id,
                OutboundState.QUEUED,
                OutboundState.SUBMITTED,
                carrier_message_id=carrier_id,
                submitted_at=now,
                attempts=message.attempts + 1,
                lease_until=0.0,
                status_detail="",
            )
            emitted = False
            current = await store.get_outbound(conn, message.id)
            if moved and current is not None:
                # A report the carrier sent before this point is waiting.
                emitted = await apply_reports(conn, current, self._outbox)
        if emitted:
            await self._outbox.committed()
        self._outcomes.labels("submitted").inc()
        self._delay.observe(max(0.0, now - message.created_at))
        log.debug(
            "SMS %s submitted to %s as %s", message.id, message.carrier, carrier_id
        )

    async def _failed_attempt(
        self, message: OutboundMessage, error: str, *, transient: bool
    ) -> None:
        now = self._clock()
        attempt = message.attempts + 1
        if transient and attempt < self._settings.submit_attempts:
            wait = backoff_s(
                attempt,
                self._settings.retry_base_s,
                self._settings.retry_max_s,
                self._rng,
            )
            transition(message.id, message.state, OutboundState.QUEUED)
            async with self._db.engine.begin() as conn:
                await store.move(
                    conn,
                    message.id,
                    OutboundState.QUEUED,
                    OutboundState.QUEUED,
                    attempts=attempt,
                    next_attempt_at=now + wait,
                    lease_until=0.0,
                    status_detail=error[:2000],
                )
            self._outcomes.labels("retry").inc()
            log.info(
                "SMS %s: carrier %s refused (%s); attempt %d, next in %.1fs",
                message.id, message.carrier, error, attempt, wait,
            )  # fmt: skip
            return

        transition(message.id, message.state, OutboundState.FAILED)
        detail = f"the carrier did not take the message: {error}"
        async with self._db.engine.begin() as conn:
            moved = await store.move(
                conn,
                message.id,
                OutboundState.QUEUED,
                OutboundState.FAILED,
                attempts=attempt,
                lease_until=0.0,
                finished_at=now,
                status_detail=detail[:2000],
            )
            report = moved and message.delivery_report
            if report:
                event = acs_events.delivery_report(
                    message, OutboundState.FAILED, detail, now
                )
                await self._outbox.emit(conn, [event])
        if report:
            await self._outbox.committed()
        self._outcomes.labels("failed").inc()
        log.warning(
            "SMS %s failed after %d attempts to %s: %s",
            message.id, attempt, message.carrier, error,
        )  # fmt: skip
