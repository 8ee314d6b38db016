"""Builds the SMS capability for the composition root."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from switchboard.bus import Bus
from switchboard.config import Settings
from switchboard.core.clock import Clock
from switchboard.core.ratelimit import RateLimiter
from switchboard.events.outbox import EventOutbox
from switchboard.numbers.directory import NumberDirectory
from switchboard.sms.sender import CarrierSet, SmsSender
from switchboard.sms.service import SmsService
from switchboard.storage.engine import Database


def build_sms(
    settings: Settings,
    db: Database,
    bus: Bus,
    numbers: NumberDirectory,
    carriers: CarrierSet,
    limiter: RateLimiter,
    outbox: EventOutbox,
    clock: Clock,
    registry: CollectorRegistry,
) -> tuple[SmsService, SmsSender]:
    """The SMS service and this node's sender; start the sender once serving."""
    sender = SmsSender(db, carriers, outbox, bus, settings.sms, clock, registry)
    service = SmsService(db, numbers, limiter, outbox, sender.wake, settings.sms, clock)
    return service, sender
