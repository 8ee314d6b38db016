"""The dispatcher: validates new subscriptions and delivers the outbox, on every node.

Each node runs one. They share the work through the database: expansion is
serialised, deliveries are leased, and a lease that runs out is taken again, so
a node killed mid-delivery only causes a repeat (at least once, same event id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from switchboard.bus import Bus
from switchboard.config import EventSettings
from switchboard.core.clock import Clock, iso8601
from switchboard.core.worker import Worker
from switchboard.events.model import VALIDATION_EVENT_TYPE, Envelope, wrap
from switchboard.events.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    RELEASED,
    Attempt,
    Claimed,
    OutboxStore,
)
from switchboard.events.signing import HEADER, signature_header
from switchboard.events.store import Subscription, SubscriptionStore
from switchboard.events.webhook import TargetRefused, TargetUnresolved, WebhookClient

log = logging.getLogger(__name__)

WAKE_TOPIC = "events.wake"
"""Bus topic: new events are in the outbox, or a subscription changed."""

_RETRIED_STATUSES = frozenset({408, 429})
_VALIDATION_ATTEMPTS = 5
_CHAIN = 50
"""Deliveries of one subject attempted one after another in a round."""


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delta or HTTP date), if any."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        sent = parsedate_to_datetime(value).timestamp()
        return max(0.0, float(sent) - now)
    except (TypeError, ValueError):
        return None


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter for the given (1-based) failed attempt."""
    ceiling: float = min(max_s, base_s * 2.0 ** (attempt - 1))
    return ceiling * (0.5 + rng.random() / 2)


class Dispatcher(Worker):
    """Delivers events to subscriptions: at least once, in order per subject."""

    def __init__(
        self,
        store: OutboxStore,
        subscriptions: SubscriptionStore,
        bus: Bus,
        webhooks: WebhookClient,
        settings: EventSettings,
        topic: str,
        origin: str,
        clock: Clock,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(bus, WAKE_TOPIC, settings.poll_interval_s, "events-dispatcher")
        self._store = store
        self._subscriptions = subscriptions
        self._webhooks = webhooks
        self._settings = settings
        self._topic = topic
        self._origin = origin
        self.base_url = f"https://{origin}"
        """Where validation links point; the node sets it once its port is known."""
        self._clock = clock
        self._rng = random.Random()
        self._last_purge = 0.0
        self._outcomes = Counter(
            "switchboard_event_deliveries",
            "Webhook delivery attempts, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._delay = Histogram(
            "switchboard_event_delivery_delay_seconds",
            "Time from an event to its successful delivery.",
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )

    async def stop(self) -> None:
        """Stop, then close the webhook connections."""
        await super().stop()
        await self._webhooks.close()

    async def run_once(self) -> bool:
        """One round of work; True when there may be more right away."""
        now = self._clock()
        await self._validate_pending(now)
        expanded = await self._store.expand(now, self._settings.batch_size)
        chains = await self._store.claim(
            now, self._settings.lease_s, self._settings.batch_size, _CHAIN
        )
        if chains:
            subs = await self._subscriptions.by_name()
            done = await asyncio.gather(*(self._run_chain(c, subs) for c in chains))
            await self._store.finish([a for attempts in done for a in attempts])
        if now - self._last_purge > 60:
            self._last_purge = now
            await self._store.purge(now - self._settings.retention_s)
        return bool(expanded or chains)

    # Deliveries

    async def _run_chain(
        self, chain: list[Claimed], subs: dict[str, Subscription]
    ) -> list[Attempt]:
        """Attempt one subject's deliveries in order, stopping at the first miss."""
        attempts: list[Attempt] = []
        for index, claimed in enumerate(chain):
            attempt = await self._deliver(claimed, subs)
            attempts.append(attempt)
            if attempt.state != DELIVERED:
                now = self._clock()
                attempts += [
                    Attempt(c.delivery_id, RELEASED, now) for c in chain[index + 1 :]
                ]
                break
        return attempts

    async def _deliver(
        self, claimed: Claimed, subs: dict[str, Subscription]
    ) -> Attempt:
        sub = subs.get(claimed.subscription)
        now = self._clock()
        if sub is None:
            return Attempt(claimed.delivery_id, DEAD, now, "subscription deleted")
        attempt = claimed.attempts + 1
        payload, content_type = wrap(claimed.event, sub.envelope, self._topic)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": content_type,
            HEADER: signature_header(sub.secret, body, int(now)),
            "aeg-event-type": "Notification",
            "aeg-subscription-name": sub.name,
            "aeg-delivery-count": str(claimed.attempts),
            "Switchboard-Event-Id": claimed.event.id,
        }
        if sub.envelope is Envelope.CLOUD_EVENTS:
            headers["WebHook-Request-Origin"] = self._origin

        retry_at: float | None = None
        try:
            response = await self._webhooks.request(
                "POST", sub.target_url, body, headers
            )
        except TargetUnresolved as exc:
            outcome, error = "retry", str(exc)
        except TargetRefused as exc:
            outcome, error = "refused", str(exc)
        except httpx.HTTPError as exc:
            outcome, error = "retry", f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            error = f"HTTP {status}"
            if 200 <= status < 300:
                outcome = "delivered"
            elif status in _RETRIED_STATUSES or status >= 500:
                outcome = "retry"
                wait = retry_after_s(response.headers, now)
                if wait is not None:
                    retry_at = now + wait
            elif 300 <= status < 400:
                outcome, error = "failed", f"HTTP {status}: redirects are not followed"
            elif status in (400, 401, 403, 404, 410, 413):
                outcome = "failed"
            else:
                outcome = "retry"
        return self._outcome(claimed, sub, attempt, outcome, error, retry_at)

    def _outcome(
        self,
        claimed: Claimed,
        sub: Subscription,
        attempt: int,
        outcome: str,
        error: str,
        retry_at: float | None,
    ) -> Attempt:
        now = self._clock()
        event = claimed.event
        self._outcomes.labels(outcome).inc()
        if outcome == "delivered":
            self._delay.observe(max(0.0, now - event.time))
            log.debug("event %s delivered to %s", event.id, sub.name)
            return Attempt(claimed.delivery_id, DELIVERED, now)

        too_old = now - claimed.created_at >= sub.max_age_s
        if outcome == "retry" and attempt < sub.max_attempts and not too_old:
            wait = backoff_s(
                attempt,
                self._settings.retry_base_s,
                self._settings.retry_max_s,
                self._rng,
            )
            when = max(now + wait, retry_at or 0.0)
            log.info(
                "event %s to %s failed (%s); attempt %d, next in %.1fs",
                event.id, sub.name, error, attempt, when - now,
            )  # fmt: skip
            return Attempt(claimed.delivery_id, PENDING, now, error, when)
        log.warning(
            "event %s to %s dead-lettered after %d attempts: %s",
            event.id, sub.name, attempt, error,
        )  # fmt: skip
        return Attempt(claimed.delivery_id, DEAD, now, error)

    # Validation handshakes

    async def _validate_pending(self, now: float) -> None:
        for sub in await self._subscriptions.awaiting_validation(now):
            try:
                await self._handshake(sub)
            except (TargetRefused, httpx.HTTPError, ValueError) as exc:
                attempts = sub.validation_attempts + 1
                detail = f"validation failed: {exc}"
                if attempts >= _VALIDATION_ATTEMPTS:
                    log.warning("subscription %s: %s; giving up", sub.name, detail)
                    await self._subscriptions.set_state(
                        sub.name, "validationFailed", detail, now
                    )
                else:
                    log.info("subscription %s: %s; will retry", sub.name, detail)
                    await self._subscriptions.retry_validation(
                        sub.name, detail, attempts, now + 2**attempts
                    )
                continue
            log.info("subscription %s validated and active", sub.name)
            await self._subscriptions.set_state(sub.name, "active", "", now)

    async def _handshake(self, sub: Subscription) -> None:
        if sub.envelope is Envelope.CLOUD_EVENTS:
            await self._cloudevents_handshake(sub)
        else:
            await self._eventgrid_handshake(sub)

    async def _cloudevents_handshake(self, sub: Subscription) -> None:
        # CloudEvents HTTP webhook spec §4.1: the abuse-protection OPTIONS request.
        response = await self._webhooks.request(
            "OPTIONS",
            sub.target_url,
            b"",
            {"WebHook-Request-Origin": self._origin, "WebHook-Request-Rate": "120"},
        )
        if not 200 <= response.status_code < 300:
            raise ValueError(f"OPTIONS answered HTTP {response.status_code}")
        allowed = response.headers.get("webhook-allowed-origin", "")
        if allowed not in ("*", self._origin):
            raise ValueError(
                f"WebHook-Allowed-Origin is {allowed!r}, not {self._origin!r} or '*'"
            )

    async def _eventgrid_handshake(self, sub: Subscription) -> None:
        code = secrets.token_urlsafe(24)
        await self._subscriptions.set_validation_code(sub.name, code)
        event: dict[str, Any] = {
            "id": secrets.token_hex(16),
            "topic": self._topic,
            "subject": "",
            "data": {
                "validationCode": code,
                "validationUrl": f"{self.base_url}/eventSubscriptions/"
                f"{sub.name}/validation?code={code}",
            },
            "eventType": VALIDATION_EVENT_TYPE,
            "eventTime": iso8601(self._clock()),
            "metadataVersion": "1",
            "dataVersion": "2",
        }
        body = json.dumps([event]).encode()
        response = await self._webhooks.request(
            "POST",
            sub.target_url,
            body,
            {
                "Content-Type": "application/json",
                "aeg-event-type": "SubscriptionValidation",
                HEADER: signature_header(sub.secret, body, int(self._clock())),
            },
        )
        if response.status_code != 200:
            raise ValueError(
                f"the validation event was answered HTTP {response.status_code}"
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise ValueError("the validation answer is not JSON") from exc
        if not isinstance(answer, dict) or answer.get("validationResponse") != code:
            raise ValueError("the answer does not carry the validationCode")
