"""Webhook subscriptions: checked input in; subscriptions and dead letters out."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError, ErrorCode, bad_request, not_found
from switchboard.events.dispatcher import Dispatcher
from switchboard.events.model import KNOWN_EVENT_TYPES, Envelope
from switchboard.events.store import (
    ACTIVE,
    AWAITING,
    DeadLetter,
    Subscription,
    SubscriptionStore,
)
from switchboard.events.webhook import TargetRefused, WebhookClient, target_error

log = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$")
DEFAULT_ATTEMPTS, MAX_ATTEMPTS = 30, 30
DEFAULT_TTL_MINUTES, MAX_TTL_MINUTES = 1440, 1440


class RetryPolicy(BaseModel):
    """How long and how often to try one event."""

    model_config = ConfigDict(extra="forbid")

    maxDeliveryAttempts: StrictInt = Field(DEFAULT_ATTEMPTS, ge=1, le=MAX_ATTEMPTS)
    eventTimeToLiveInMinutes: StrictInt = Field(
        DEFAULT_TTL_MINUTES, ge=1, le=MAX_TTL_MINUTES
    )


class SubscriptionBody(BaseModel):
    """The body of PUT (every field) and PATCH (any field) on a subscription."""

    model_config = ConfigDict(extra="forbid")

    targetUrl: StrictStr | None = None
    eventTypes: list[StrictStr] | None = None
    subjectBeginsWith: StrictStr | None = None
    envelope: Envelope | None = None
    secret: StrictStr | None = Field(None, min_length=16, max_length=128)
    retryPolicy: RetryPolicy | None = None


def _invalid(message: str, target: str) -> AcsError:
    return bad_request(message, code=ErrorCode.INVALID_REQUEST_BODY, target=target)


def _event_types(values: list[str]) -> list[str]:
    unknown = [value for value in values if value not in KNOWN_EVENT_TYPES]
    if unknown:
        raise _invalid(
            f"unknown event type {unknown[0]!r}; see docs/events.md for the list",
            "eventTypes",
        )
    return list(dict.fromkeys(values))


class EventSubscriptions:
    """Creates, changes and removes webhook subscriptions."""

    def __init__(
        self,
        store: SubscriptionStore,
        webhooks: WebhookClient,
        dispatcher: Dispatcher,
        clock: Clock,
    ) -> None:
        self._store = store
        self._webhooks = webhooks
        self._dispatcher = dispatcher
        self._clock = clock

    async def _check_target(self, url: str) -> None:
        try:
            await self._webhooks.pin(url)
        except TargetRefused as exc:
            raise target_error(exc, "targetUrl") from exc

    async def get(self, name: str) -> Subscription:
        """One subscription, or 404."""
        sub = await self._store.get(name)
        if sub is None:
            raise not_found(f"no event subscription named {name!r}", target="name")
        return sub

    async def page(self, after: str, limit: int) -> list[Subscription]:
        """A page of subscriptions in name order."""
        return await self._store.page(after, limit)

    async def put(
        self, name: str, body: SubscriptionBody
    ) -> tuple[Subscription, bool, str | None]:
        """Create or replace; returns it, whether it is new, and a generated secret."""
        if not NAME.match(name):
            raise bad_request(
                "a subscription name is 3 to 64 letters, digits and hyphens",
                target="name",
            )
        if body.targetUrl is None:
            raise _invalid("targetUrl is required", "targetUrl")
        await self._check_target(body.targetUrl)
        existing = await self._store.get(name)
        generated = None if body.secret else secrets.token_urlsafe(32)
        policy = body.retryPolicy or RetryPolicy()
        now = self._clock()
        sub = Subscription(
            name=name,
            target_url=body.targetUrl,
            event_types=_event_types(body.eventTypes or []),
            subject_prefix=body.subjectBeginsWith or "",
            envelope=body.envelope or Envelope.EVENT_GRID,
            secret=body.secret or generated or "",
            max_attempts=policy.maxDeliveryAttempts,
            max_age_s=policy.eventTimeToLiveInMinutes * 60.0,
            state=AWAITING,
            state_detail="",
            created_at=existing.created_at if existing else now,
            updated_at=now,
            validation_attempts=0,
            validation_code="",
        )
        await self._store.put(sub, replace=existing is not None)
        await self._dispatcher.wake()
        log.info(
            "event subscription %s %s", name, "replaced" if existing else "created"
        )
        return sub, existing is None, generated

    async def patch(self, name: str, body: SubscriptionBody) -> Subscription:
        """Change the given fields; a new target or envelope is validated again."""
        sub = await self.get(name)
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if body.targetUrl is not None and body.targetUrl != sub.target_url:
            await self._check_target(body.targetUrl)
            changes.update(target_url=body.targetUrl, state=AWAITING)
        if body.envelope is not None and body.envelope != sub.envelope:
            changes.update(envelope=body.envelope, state=AWAITING)
        if body.eventTypes is not None:
            changes["event_types"] = _event_types(body.eventTypes)
        if body.subjectBeginsWith is not None:
            changes["subject_prefix"] = body.subjectBeginsWith
        if body.secret is not None:
            changes["secret"] = body.secret
        if (policy := body.retryPolicy) is not None:
            # Merge-patch: only the fields the body names change.
            given = policy.model_fields_set
            if "maxDeliveryAttempts" in given:
                changes["max_attempts"] = policy.maxDeliveryAttempts
            if "eventTimeToLiveInMinutes" in given:
                changes["max_age_s"] = policy.eventTimeToLiveInMinutes * 60.0
        updated = replace(sub, **changes)
        if updated.state == AWAITING:
            updated = replace(updated, state_detail="")
        await self._store.put(updated, replace=True)
        await self._dispatcher.wake()
        return updated

    async def delete(self, name: str) -> None:
        """Delete a subscription; its pending deliveries are dropped."""
        if not await self._store.delete(name):
            raise not_found(f"no event subscription named {name!r}", target="name")
        log.info("event subscription %s deleted", name)

    async def revalidate(self, name: str) -> Subscription:
        """Run the handshake again."""
        sub = await self.get(name)
        await self._store.set_state(name, AWAITING, "", self._clock())
        await self._dispatcher.wake()
        return replace(sub, state=AWAITING, state_detail="")

    async def validate_with_code(self, name: str, code: str) -> Subscription:
        """Activate a subscription through its validation link (Event Grid only)."""
        sub = await self.get(name)
        if sub.state != AWAITING or not sub.validation_code:
            raise bad_request("this subscription is not awaiting validation")
        if not secrets.compare_digest(code, sub.validation_code):
            raise bad_request("the validation code does not match", target="code")
        await self._store.set_state(name, ACTIVE, "", self._clock())
        log.info("subscription %s validated through its link", name)
        return replace(sub, state=ACTIVE)

    async def dead_letters(self, name: str, after: int, limit: int) -> list[DeadLetter]:
        """A page of the subscription's dead letters."""
        await self.get(name)
        return await self._store.dead_letters(name, after, limit)

    async def replay(self, name: str, delivery_id: int | None) -> int:
        """Queue dead letters again; 404 when a named one does not exist."""
        await self.get(name)
        count = await self._store.replay(name, delivery_id, self._clock())
        if delivery_id is not None and count == 0:
            raise not_found(f"no dead letter {delivery_id} in {name!r}", target="id")
        await self._dispatcher.wake()
        log.info("%d dead letters of %s replayed", count, name)
        return count
