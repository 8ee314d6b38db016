"""The outbox: events written with the change that caused them, then delivered.

`emit` runs inside the caller's transaction. The dispatcher later expands each
new row into one delivery per matching active subscription, claims due
deliveries under a lease, and records each attempt's outcome. A delivery whose
lease runs out (its node died mid-attempt) is simply claimed again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.events.model import Event
from switchboard.storage.engine import Database
from switchboard.storage.events_tables import (
    event_deliveries,
    event_outbox,
    event_subscriptions,
)

log = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
RELEASED = "released"
"""Not an attempt: a chained delivery left unattempted goes back as it was."""

# Expansion is serialised across nodes so that deliveries are created in event
# order; any constant works as long as every node uses the same one.
_EXPAND_LOCK_ID = 0x5357_4558


async def emit(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Add events to the outbox in the caller's transaction."""
    if not events:
        return
    await conn.execute(
        insert(event_outbox),
        [
            {
                "event_id": event.id,
                "event_type": event.type,
                "subject": event.subject,
                "data": event.data,
                "event_time": event.time,
                "expanded": False,
            }
            for event in events
        ],
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt, with everything needed to make it."""

    delivery_id: int
    subscription: str
    attempts: int
    created_at: float
    event: Event


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt, to be recorded."""

    delivery_id: int
    state: str
    at: float
    error: str = ""
    next_attempt_at: float = 0.0


def matches(types: list[str], prefix: str, event_type: str, subject: str) -> bool:
    """Whether a subscription's filter lets an event through."""
    return (not types or event_type in types) and subject.startswith(prefix)


def _claim_columns() -> Select[Any]:
    return select(
        event_deliveries.c.id,
        event_deliveries.c.subscription,
        event_deliveries.c.subject,
        event_deliveries.c.event_seq,
        event_deliveries.c.attempts,
        event_deliveries.c.created_at,
        event_outbox.c.event_id,
        event_outbox.c.event_type,
        event_outbox.c.data,
        event_outbox.c.event_time,
    ).join(event_outbox, event_outbox.c.seq == event_deliveries.c.event_seq)


def _claimed(row: Any) -> Claimed:
    return Claimed(
        delivery_id=row.id,
        subscription=row.subscription,
        attempts=row.attempts,
        created_at=row.created_at,
        event=Event(
            type=row.event_type,
            subject=row.subject,
            data=row.data,
            time=row.event_time,
            id=row.event_id,
        ),
    )


class OutboxStore:
    """The dispatcher's queries over the outbox and deliveries tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def expand(self, now: float, batch: int) -> int:
        """Turn new outbox rows into deliveries; returns how many rows it took."""
        async with self._db.engine.begin() as conn:
            if not self._db.is_sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _EXPAND_LOCK_ID}
                )
            rows = (
                await conn.execute(
                    select(
                        event_outbox.c.seq,
                        event_outbox.c.event_type,
                        event_outbox.c.subject,
                    )
                    .where(event_outbox.c.expanded.is_(False))
                    .order_by(event_outbox.c.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return 0
            subscriptions = (
                await conn.execute(
                    select(
                        event_subscriptions.c.name,
                        event_subscriptions.c.event_types,
                        event_subscriptions.c.subject_prefix,
                    ).where(event_subscriptions.c.state == "active")
                )
            ).all()
            deliveries: list[dict[str, Any]] = [
                {
                    "subscription": sub.name,
                    "event_seq": row.seq,
                    "subject": row.subject,
                    "state": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": 0.0,
                    "created_at": now,
                    "last_error": "",
                }
                for row in rows
                for sub in subscriptions
                if matches(
                    sub.event_types, sub.subject_prefix, row.event_type, row.subject
                )
            ]
            if deliveries:
                await conn.execute(insert(event_deliveries), deliveries)
            await conn.execute(
                update(event_outbox)
                .where(event_outbox.c.seq.in_([row.seq for row in rows]))
                .values(expanded=True)
            )
            return len(rows)

    async def claim(
        self, now: float, lease_s: float, limit: int, chain: int
    ) -> list[list[Claimed]]:
        """Lease due deliveries in chains: each chain is one subject's, in order.

        A chain starts at the first pending delivery of its subscription and
        subject, and goes on with the deliveries queued behind it (up to `chain`),
        which must be attempted one after the other.
        """
        earlier = event_deliveries.alias("earlier")
        blocked = exists().where(
            and_(
                earlier.c.subscription == event_deliveries.c.subscription,
                earlier.c.subject == event_deliveries.c.subject,
                earlier.c.state == PENDING,
                earlier.c.event_seq < event_deliveries.c.event_seq,
            )
        )
        heads_query = (
            _claim_columns()
            .where(
                event_deliveries.c.state == PENDING,
                event_deliveries.c.next_attempt_at <= now,
                event_deliveries.c.lease_until <= now,
                ~blocked,
            )
            .order_by(event_deliveries.c.event_seq)
            .limit(limit)
        )
        if not self._db.is_sqlite:
            heads_query = heads_query.with_for_update(
                of=event_deliveries, skip_locked=True
            )
        async with self._db.engine.begin() as conn:
            heads = (await conn.execute(heads_query)).all()
            if not heads:
                return []
            chains = {(row.subscription, row.subject): [row] for row in heads}
            if chain > 1:
                await self._extend(conn, chains, now, chain)
            chosen = [row.id for rows in chains.values() for row in rows]
            await conn.execute(
                update(event_deliveries)
                .where(event_deliveries.c.id.in_(chosen))
                .values(lease_until=now + lease_s)
            )
        return [[_claimed(row) for row in rows] for rows in chains.values()]

    async def _extend(
        self,
        conn: AsyncConnection,
        chains: dict[tuple[str, str], list[Any]],
        now: float,
        chain: int,
    ) -> None:
        """Add the deliveries queued behind each chain's head, stopping at a gap."""
        heads = [rows[0] for rows in chains.values()]
        behind = (
            await conn.execute(
                _claim_columns()
                .add_columns(
                    event_deliveries.c.next_attempt_at,
                    event_deliveries.c.lease_until,
                )
                .where(
                    event_deliveries.c.state == PENDING,
                    event_deliveries.c.subscription.in_(
                        {h.subscription for h in heads}
                    ),
                    event_deliveries.c.subject.in_({h.subject for h in heads}),
                    event_deliveries.c.event_seq > min(h.event_seq for h in heads),
                )
                .order_by(event_deliveries.c.event_seq)
                .limit(len(heads) * chain)
            )
        ).all()
        closed: set[tuple[str, str]] = set()
        for row in behind:
            key = (row.subscription, row.subject)
            rows = chains.get(key)
            if rows is None or key in closed or row.event_seq <= rows[-1].event_seq:
                continue
            if row.lease_until > now or row.next_attempt_at > now or len(rows) >= chain:
                closed.add(key)
                continue
            rows.append(row)

    async def finish(self, attempts: Sequence[Attempt]) -> None:
        """Record attempts in one transaction: delivered, dead, or pending again."""
        released = [a.delivery_id for a in attempts if a.state == RELEASED]
        attempts = [a for a in attempts if a.state != RELEASED]
        if released:
            async with self._db.engine.begin() as conn:
                await conn.execute(
                    update(event_deliveries)
                    .where(event_deliveries.c.id.in_(released))
                    .values(lease_until=0.0)
                )
        if not attempts:
            return
        query = (
            update(event_deliveries)
            .where(event_deliveries.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                attempts=event_deliveries.c.attempts + 1,
                lease_until=0.0,
                last_error=bindparam("b_error"),
                next_attempt_at=bindparam("b_next"),
                finished_at=bindparam("b_finished"),
            )
        )
        rows = [
            {
                "b_id": a.delivery_id,
                "b_state": a.state,
                "b_error": a.error[:2000],
                "b_next": a.next_attempt_at if a.state == PENDING else a.at,
                "b_finished": None if a.state == PENDING else a.at,
            }
            for a in attempts
        ]
        async with self._db.engine.begin() as conn:
            await conn.execute(query, rows)

    async def purge(self, before: float) -> None:
        """Forget delivered deliveries and fully handled events older than `before`."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                event_deliveries.delete().where(
                    event_deliveries.c.state == DELIVERED,
                    event_deliveries.c.finished_at < before,
                )
            )
            still_needed = exists().where(
                event_deliveries.c.event_seq == event_outbox.c.seq
            )
            await conn.execute(
                event_outbox.delete().where(
                    event_outbox.c.expanded.is_(True),
                    event_outbox.c.event_time < before,
                    ~still_needed,
                )
            )


class EventOutbox:
    """What a capability publishes events with: write in its transaction, then wake."""

    def __init__(self, wake: Callable[[], Awaitable[None]]) -> None:
        self._wake = wake

    async def emit(self, conn: AsyncConnection, events: Sequence[Event]) -> None:
        """Add events to the outbox inside the caller's transaction."""
        await emit(conn, events)

    async def committed(self) -> None:
        """Tell the dispatchers, after the caller's transaction committed.

        Never raises: the events are safe in the outbox and dispatchers also
        poll, so a wake-up that cannot be sent only delays them, and the caller's
        committed change must not look failed.
        """
        try:
            await self._wake()
        except Exception:
            log.exception("could not wake the event dispatchers")
