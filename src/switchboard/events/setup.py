"""Builds the events capability for the composition root."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from switchboard.bus import Bus
from switchboard.config import Settings
from switchboard.core.clock import Clock
from switchboard.core.netguard import PeerGuard
from switchboard.events.dispatcher import Dispatcher
from switchboard.events.model import topic_for
from switchboard.events.outbox import OutboxStore
from switchboard.events.service import EventSubscriptions
from switchboard.events.store import SubscriptionStore
from switchboard.events.webhook import WebhookClient
from switchboard.storage.engine import Database


def build_events(
    settings: Settings,
    db: Database,
    bus: Bus,
    resource_id: str,
    clock: Clock,
    registry: CollectorRegistry,
) -> tuple[EventSubscriptions, Dispatcher]:
    """The subscription service and the dispatcher, sharing one webhook client."""
    guard = PeerGuard(allowed=settings.events.allowed_targets)
    webhooks = WebhookClient(guard, settings.events.timeout_s)
    subscriptions = SubscriptionStore(db)
    dispatcher = Dispatcher(
        OutboxStore(db),
        subscriptions,
        bus,
        webhooks,
        settings.events,
        topic_for(resource_id),
        settings.server.public_host,
        clock,
        registry,
    )
    return EventSubscriptions(subscriptions, webhooks, dispatcher, clock), dispatcher
