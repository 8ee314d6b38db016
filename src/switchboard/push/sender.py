"""The push sender: works off the push outbox on every node.

Nodes share the outbox through the database: each claims due pushes under a
lease and hands each to its provider. A transient failure (no answer, 429, 5xx)
puts the push back with a backoff, no earlier than a `Retry-After` asked for; a
permanent one drops it, and an answer that the device is gone (APNs 410, FCM
UNREGISTERED, WNS 410, Web Push 404/410) also deletes its registration.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter

from switchboard.bus import Bus
from switchboard.config import PushSettings
from switchboard.core.clock import Clock
from switchboard.core.worker import Worker
from switchboard.events.dispatcher import backoff_s
from switchboard.push import store
from switchboard.push.providers.base import Outcome, Provider, Verdict
from switchboard.push.records import Claimed, DeliveryState, Platform, transition
from switchboard.push.service import PushService
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)

WAKE_TOPIC = "push.wake"
"""Bus topic: pushes were queued."""

HOUSEKEEPING_S = 60.0
"""How often a node purges old pushes and expired or orphaned registrations."""

FINISHED_KEPT_S = 86400.0
"""How long sent and dropped pushes stay in the outbox."""


class PushSender(Worker):
    """Sends queued pushes through their providers with retries; one per node."""

    def __init__(
        self,
        db: Database,
        service: PushService,
        providers: Mapping[Platform, Provider],
        bus: Bus,
        settings: PushSettings,
        clock: Clock,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(bus, WAKE_TOPIC, settings.poll_interval_s, "push-sender")
        self._db = db
        self._service = service
        self._providers = providers
        self._settings = settings
        self._clock = clock
        self._rng = random.Random()
        self._last_housekeeping = 0.0
        self._outcomes = Counter(
            "switchboard_push_sends",
            "Attempts to hand a push to its provider, by platform and outcome.",
            ["platform", "outcome"],
            registry=registry,
        )

    async def stop(self) -> None:
        """Stop, then close the providers' connections."""
        await super().stop()
        for provider in set(self._providers.values()):
            await provider.close()

    async def run_once(self) -> bool:
        """One round: claim due pushes and send them; True if there were any."""
        now = self._clock()
        if now - self._last_housekeeping >= HOUSEKEEPING_S:
            self._last_housekeeping = now
            await self._housekeeping(now)
        await self._service.release_staged()
        async with self._db.engine.begin() as conn:
            claimed = await store.claim(
                conn,
                now,
                self._settings.lease_s,
                self._settings.batch_size,
                skip_locked=not self._db.is_sqlite,
            )
        if not claimed:
            return False
        await asyncio.gather(*(self._send(item) for item in claimed))
        return True

    async def _send(self, item: Claimed) -> None:
        registration = item.registration
        provider = self._providers.get(registration.platform)
        if item.expires_at <= self._clock():
            outcome = Outcome(Verdict.FAILED, "expired before it could be sent")
        elif provider is None:
            outcome = Outcome(Verdict.FAILED, "the platform is not configured")
        else:
            try:
                outcome = await provider.send(registration, item.push)
            except Exception as exc:
                # A fault in our client is not the push's: try again later.
                log.exception("push %d: the provider client raised", item.delivery_id)
                outcome = Outcome(Verdict.RETRY, repr(exc))
        self._outcomes.labels(registration.platform.value, outcome.verdict.value).inc()
        await self._record(item, outcome)

    async def _record(self, item: Claimed, outcome: Outcome) -> None:
        now = self._clock()
        attempt = item.attempts + 1
        delivery, registration = item.delivery_id, item.registration
        state, when = DeliveryState.DROPPED, 0.0
        if outcome.verdict is Verdict.SENT:
            state = DeliveryState.SENT
        elif outcome.verdict is Verdict.RETRY and attempt < self._settings.max_attempts:
            wait = backoff_s(
                attempt,
                self._settings.retry_base_s,
                self._settings.retry_max_s,
                self._rng,
            )
            when = now + max(wait, outcome.retry_after_s or 0.0)
            if when < item.expires_at:
                state = DeliveryState.PENDING
        transition(delivery, DeliveryState.PENDING, state)
        async with self._db.engine.begin() as conn:
            await store.finish(
                conn, delivery, state, attempt, outcome.detail, now, when
            )
            if outcome.verdict is Verdict.GONE:
                await store.delete_registrations(conn, [registration.id])
        if state is DeliveryState.PENDING:
            log.info(
                "push %d to %s: %s; attempt %d, next in %.1fs",
                delivery, registration.platform.value, outcome.detail, attempt,
                when - now,
            )  # fmt: skip
        elif outcome.verdict is Verdict.GONE:
            log.info(
                "push registration %s removed: %s", registration.id, outcome.detail
            )
        elif state is DeliveryState.DROPPED:
            log.warning(
                "push %d to %s dropped after %d attempts: %s",
                delivery, registration.platform.value, attempt, outcome.detail,
            )  # fmt: skip

    async def _housekeeping(self, now: float) -> None:
        async with self._db.engine.begin() as conn:
            await store.purge(conn, now - FINISHED_KEPT_S)
            expired = await store.expired_registrations(conn, now)
            if expired:
                await store.delete_registrations(conn, expired)
                log.info("%d expired push registrations removed", len(expired))
        await self._service.forget_deleted_users()
