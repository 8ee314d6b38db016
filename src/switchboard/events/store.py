"""Webhook subscriptions in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from switchboard.events.model import Envelope
from switchboard.events.outbox import DEAD, PENDING
from switchboard.storage.engine import Database
from switchboard.storage.events_tables import (
    event_deliveries,
    event_outbox,
    event_subscriptions,
)

AWAITING, ACTIVE, FAILED = "awaitingValidation", "active", "validationFailed"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription as stored."""

    name: str
    target_url: str
    event_types: list[str]
    subject_prefix: str
    envelope: Envelope
    secret: str
    max_attempts: int
    max_age_s: float
    state: str
    state_detail: str
    created_at: float
    updated_at: float
    validation_attempts: int
    validation_code: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a subscription gave up on."""

    delivery_id: int
    event_id: str
    event_type: str
    subject: str
    attempts: int
    last_error: str
    failed_at: float


def _subscription(row: Any) -> Subscription:
    return Subscription(
        name=row.name,
        target_url=row.target_url,
        event_types=list(row.event_types),
        subject_prefix=row.subject_prefix,
        envelope=Envelope(row.envelope),
        secret=row.secret,
        max_attempts=row.max_attempts,
        max_age_s=row.max_age_s,
        state=row.state,
        state_detail=row.state_detail,
        created_at=row.created_at,
        updated_at=row.updated_at,
        validation_attempts=row.validation_attempts,
        validation_code=row.validation_code,
    )


class SubscriptionStore:
    """Reads and writes subscriptions and their dead letters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> Subscription | None:
        """One subscription by name."""
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(event_subscriptions).where(
                        event_subscriptions.c.name == name
                    )
                )
            ).first()
        return None if row is None else _subscription(row)

    async def page(self, after: str, limit: int) -> list[Subscription]:
        """Subscriptions in name order, starting after `after`."""
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(event_subscriptions)
                    .where(event_subscriptions.c.name > after)
                    .order_by(event_subscriptions.c.name)
                    .limit(limit)
                )
            ).all()
        return [_subscription(row) for row in rows]

    async def by_name(self) -> dict[str, Subscription]:
        """Every subscription, keyed by name."""
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(select(event_subscriptions))).all()
        return {row.name: _subscription(row) for row in rows}

    async def put(self, sub: Subscription, *, replace: bool) -> None:
        """Insert a new subscription or replace an existing one."""
        values = {
            "name": sub.name,
            "target_url": sub.target_url,
            "event_types": sub.event_types,
            "subject_prefix": sub.subject_prefix,
            "envelope": sub.envelope.value,
            "secret": sub.secret,
            "max_attempts": sub.max_attempts,
            "max_age_s": sub.max_age_s,
            "state": sub.state,
            "state_detail": sub.state_detail,
            "created_at": sub.created_at,
            "updated_at": sub.updated_at,
            "validate_after": 0.0,
            "validation_attempts": 0,
            "validation_code": "",
        }
        async with self._db.engine.begin() as conn:
            if replace:
                await conn.execute(
                    update(event_subscriptions)
                    .where(event_subscriptions.c.name == sub.name)
                    .values(**values)
                )
            else:
                await conn.execute(insert(event_subscriptions).values(**values))

    async def delete(self, name: str) -> bool:
        """Delete a subscription and its undelivered work; False when absent."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                delete(event_deliveries).where(event_deliveries.c.subscription == name)
            )
            result = await conn.execute(
                delete(event_subscriptions).where(event_subscriptions.c.name == name)
            )
        return bool(result.rowcount)

    async def awaiting_validation(self, now: float) -> list[Subscription]:
        """Subscriptions whose handshake is due."""
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(event_subscriptions).where(
                        event_subscriptions.c.state == AWAITING,
                        event_subscriptions.c.validate_after <= now,
                    )
                )
            ).all()
        return [_subscription(row) for row in rows]

    async def set_state(self, name: str, state: str, detail: str, now: float) -> None:
        """Move a subscription to a new state."""
        values: dict[str, Any] = {
            "state": state,
            "state_detail": detail,
            "updated_at": now,
        }
        if state == AWAITING:
            values.update(validate_after=0.0, validation_attempts=0)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(event_subscriptions)
                .where(event_subscriptions.c.name == name)
                .values(**values)
            )

    async def retry_validation(
        self, name: str, detail: str, attempts: int, at: float
    ) -> None:
        """Note a failed handshake and when to try again."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(event_subscriptions)
                .where(event_subscriptions.c.name == name)
                .values(
                    state_detail=detail, validation_attempts=attempts, validate_after=at
                )
            )

    async def set_validation_code(self, name: str, code: str) -> None:
        """Remember the code sent in the Event Grid validation event."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(event_subscriptions)
                .where(event_subscriptions.c.name == name)
                .values(validation_code=code)
            )

    async def dead_letters(self, name: str, after: int, limit: int) -> list[DeadLetter]:
        """A subscription's dead letters, oldest first, after a delivery id."""
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        event_deliveries.c.id,
                        event_deliveries.c.attempts,
                        event_deliveries.c.last_error,
                        event_deliveries.c.finished_at,
                        event_outbox.c.event_id,
                        event_outbox.c.event_type,
                        event_outbox.c.subject,
                    )
                    .join(
                        event_outbox, event_outbox.c.seq == event_deliveries.c.event_seq
                    )
                    .where(
                        event_deliveries.c.subscription == name,
                        event_deliveries.c.state == DEAD,
                        event_deliveries.c.id > after,
                    )
                    .order_by(event_deliveries.c.id)
                    .limit(limit)
                )
            ).all()
        return [
            DeadLetter(
                delivery_id=row.id,
                event_id=row.event_id,
                event_type=row.event_type,
                subject=row.subject,
                attempts=row.attempts,
                last_error=row.last_error,
                failed_at=row.finished_at or 0.0,
            )
            for row in rows
        ]

    async def replay(self, name: str, delivery_id: int | None, now: float) -> int:
        """Queue dead letters again (one, or all when no id); returns how many."""
        query = update(event_deliveries).where(
            event_deliveries.c.subscription == name,
            event_deliveries.c.state == DEAD,
        )
        if delivery_id is not None:
            query = query.where(event_deliveries.c.id == delivery_id)
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                query.values(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    lease_until=0.0,
                    created_at=now,
                    finished_at=None,
                )
            )
        return int(result.rowcount)
