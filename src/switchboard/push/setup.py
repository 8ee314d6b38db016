"""Builds the push capability for the composition root."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from switchboard.bus import Bus
from switchboard.bus.base import Message
from switchboard.config import Settings
from switchboard.core.clock import Clock
from switchboard.core.errors import StartupError
from switchboard.core.netguard import PeerGuard
from switchboard.events.webhook import WebhookClient
from switchboard.identity.service import USER_CHANGED
from switchboard.push.notifier import PushingNotifier
from switchboard.push.presence import LocalPresence, RedisPresence
from switchboard.push.providers.apns import ApnsProvider
from switchboard.push.providers.base import Provider
from switchboard.push.providers.fcm import FcmProvider
from switchboard.push.providers.webpush import WebPushProvider
from switchboard.push.providers.wns import WnsProvider
from switchboard.push.records import Platform
from switchboard.push.sender import WAKE_TOPIC, PushSender
from switchboard.push.service import PushService
from switchboard.push.vapid import load_vapid_key
from switchboard.realtime.hub import RealtimeHub
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushParts:
    """What the node keeps of the push capability."""

    service: PushService
    sender: PushSender
    notifier: PushingNotifier
    presence: LocalPresence


def _providers(
    settings: Settings, webpush: WebPushProvider, clock: Clock
) -> dict[Platform, Provider]:
    push = settings.push
    providers: dict[Platform, Provider] = {Platform.WEBPUSH: webpush}
    try:
        if push.apns_key_file is not None:
            missing = [
                f"push.{name}"
                for name in ("apns_team_id", "apns_key_id", "apns_topic")
                if not getattr(push, name)
            ]
            if missing:
                raise StartupError(
                    f"push.apns_key_file is set but {', '.join(missing)} is empty"
                )
            apns = ApnsProvider(push, clock)
            providers[Platform.APNS] = providers[Platform.APNS_VOIP] = apns
        if push.fcm_service_account_file is not None:
            providers[Platform.FCM] = FcmProvider(push, clock)
        if push.wns_client_id:
            if not push.wns_client_secret.get_secret_value():
                raise StartupError(
                    "push.wns_client_id is set but push.wns_client_secret is empty"
                )
            providers[Platform.WNS] = WnsProvider(push, clock)
    except (OSError, ValueError) as exc:
        raise StartupError(f"push credentials cannot be read: {exc}") from exc
    return providers


async def build_push(
    settings: Settings,
    db: Database,
    bus: Bus,
    hub: RealtimeHub,
    clock: Clock,
    registry: CollectorRegistry,
) -> PushParts:
    """Presence, the service, the notifier around the hub, and the sender."""
    push = settings.push
    presence: LocalPresence = (
        RedisPresence(settings.server.redis, push.presence_ttl_s, clock)
        if settings.server.redis
        else LocalPresence()
    )
    await presence.start()
    hub.on_presence(presence.connected, presence.disconnected)

    vapid = await load_vapid_key(db, clock)
    subject = push.webpush_subject or f"https://{settings.server.public_host}"
    endpoints = WebhookClient(PeerGuard(allowed=push.allowed_targets), push.timeout_s)
    webpush = WebPushProvider(push, vapid, subject, endpoints, clock)
    providers = _providers(settings, webpush, clock)

    async def wake() -> None:
        await bus.publish(WAKE_TOPIC, {})

    service = PushService(
        db, push, frozenset(providers), vapid, presence, endpoints, wake, clock
    )
    sender = PushSender(db, service, providers, bus, push, clock, registry)

    async def on_user_changed(message: Message) -> None:
        try:
            await service.forget_deleted_users()
        except Exception:
            log.exception("could not remove the push registrations of deleted users")

    await bus.subscribe(USER_CHANGED, on_user_changed)
    log.info(
        "push platforms: %s", ", ".join(sorted(p.value for p in providers)) or "none"
    )
    return PushParts(service, sender, PushingNotifier(hub, service), presence)
