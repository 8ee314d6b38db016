"""Push storage: registrations, the push outbox and staged pushes (SQLAlchemy Core)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.push.records import (
    Claimed,
    DeliveryState,
    Platform,
    Push,
    PushKind,
    Registration,
    Staged,
)
from switchboard.storage.push_tables import (
    push_deliveries,
    push_registrations,
    push_staged,
)
from switchboard.storage.tables import users

regs = push_registrations
deliveries = push_deliveries


def token_key(token: str) -> str:
    """The fixed-size key a device token is unique by (tokens may be long URLs)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _registration(row: Any) -> Registration:
    return Registration(
        id=row.id,
        user_id=row.user_id,
        platform=Platform(row.platform),
        app_id=row.app_id,
        token=row.token,
        p256dh=row.p256dh,
        auth=row.auth,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
    )


def _values(registration: Registration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "user_id": registration.user_id,
        "platform": registration.platform.value,
        "app_id": registration.app_id,
        "token": registration.token,
        "token_key": token_key(registration.token),
        "p256dh": registration.p256dh,
        "auth": registration.auth,
        "created_at": registration.created_at,
        "updated_at": registration.updated_at,
        "expires_at": registration.expires_at,
    }


async def by_device(
    conn: AsyncConnection, platform: Platform, token: str
) -> Registration | None:
    """The registration of a device token on a platform, whoever owns it."""
    row = (
        await conn.execute(
            select(regs).where(
                regs.c.platform == platform.value, regs.c.token_key == token_key(token)
            )
        )
    ).first()
    return None if row is None else _registration(row)


async def insert_registration(
    conn: AsyncConnection, registration: Registration
) -> None:
    """Store a new registration."""
    await conn.execute(insert(regs).values(**_values(registration)))


async def replace_registration(
    conn: AsyncConnection, registration: Registration
) -> None:
    """Overwrite a registration's fields, keeping its id."""
    values = _values(registration)
    del values["id"]
    await conn.execute(update(regs).where(regs.c.id == registration.id).values(values))


async def get_registration(
    conn: AsyncConnection, registration_id: str
) -> Registration | None:
    """One registration by id."""
    row = (await conn.execute(select(regs).where(regs.c.id == registration_id))).first()
    return None if row is None else _registration(row)


async def user_registrations(conn: AsyncConnection, user: str) -> list[Registration]:
    """Every registration of one user, oldest first."""
    rows = await conn.execute(
        select(regs)
        .where(regs.c.user_id == user)
        .order_by(regs.c.created_at, regs.c.id)
    )
    return [_registration(row) for row in rows]


async def count_registrations(conn: AsyncConnection, user: str) -> int:
    """How many devices a user has registered."""
    count = await conn.execute(
        select(func.count()).select_from(regs).where(regs.c.user_id == user)
    )
    return int(count.scalar() or 0)


async def delete_registrations(conn: AsyncConnection, ids: Sequence[str]) -> int:
    """Delete registrations and the pushes queued for them; how many went."""
    if not ids:
        return 0
    await conn.execute(delete(deliveries).where(deliveries.c.registration_id.in_(ids)))
    result = await conn.execute(delete(regs).where(regs.c.id.in_(ids)))
    return int(result.rowcount)


async def registrations_of_deleted_users(conn: AsyncConnection) -> list[str]:
    """Ids of registrations whose user has been deleted."""
    gone = select(users.c.id).where(users.c.deleted_at.is_not(None))
    rows = await conn.execute(select(regs.c.id).where(regs.c.user_id.in_(gone)))
    return [row.id for row in rows]


async def expired_registrations(conn: AsyncConnection, now: float) -> list[str]:
    """Ids of registrations past their expiry."""
    rows = await conn.execute(select(regs.c.id).where(regs.c.expires_at <= now))
    return [row.id for row in rows]


async def live_registrations(
    conn: AsyncConnection, user_ids: Iterable[str], now: float
) -> list[Registration]:
    """The unexpired registrations of the given users."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    rows = await conn.execute(
        select(regs).where(regs.c.user_id.in_(wanted), regs.c.expires_at > now)
    )
    return [_registration(row) for row in rows]


async def enqueue(
    conn: AsyncConnection,
    targets: Sequence[Registration],
    push: Push,
    now: float,
    expires_at: float,
) -> list[int]:
    """Queue one push for each registration; a queued push with the same collapse
    key for the same device is replaced. Returns the new rows' ids."""
    ids = [target.id for target in targets]
    if push.collapse_key and ids:
        await conn.execute(
            delete(deliveries).where(
                deliveries.c.registration_id.in_(ids),
                deliveries.c.collapse_key == push.collapse_key,
                deliveries.c.state == DeliveryState.PENDING.value,
                deliveries.c.lease_until <= now,
            )
        )
    made = []
    for target in targets:
        result = await conn.execute(
            insert(deliveries)
            .values(
                registration_id=target.id,
                kind=push.kind.value,
                payload={"fields": push.payload, "ttl_s": push.ttl_s},
                collapse_key=push.collapse_key,
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                lease_until=0.0,
                created_at=now,
                expires_at=expires_at,
                last_error="",
            )
            .returning(deliveries.c.id)
        )
        made.append(int(result.scalar_one()))
    return made


async def claim(
    conn: AsyncConnection,
    now: float,
    lease_s: float,
    limit: int,
    *,
    skip_locked: bool,
) -> list[Claimed]:
    """Lease due pushes with their devices for one attempt each."""
    query = (
        select(
            deliveries.c.id.label("delivery_id"),
            deliveries.c.kind,
            deliveries.c.payload,
            deliveries.c.collapse_key,
            deliveries.c.attempts,
            deliveries.c.expires_at.label("delivery_expires_at"),
            regs,
        )
        .join(regs, regs.c.id == deliveries.c.registration_id)
        .where(
            deliveries.c.state == DeliveryState.PENDING.value,
            deliveries.c.next_attempt_at <= now,
            deliveries.c.lease_until <= now,
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(of=deliveries, skip_locked=True)
    rows = (await conn.execute(query)).all()
    if not rows:
        return []
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_([row.delivery_id for row in rows]))
        .values(lease_until=now + lease_s)
    )
    return [
        Claimed(
            delivery_id=row.delivery_id,
            attempts=row.attempts,
            expires_at=row.delivery_expires_at,
            push=Push(
                kind=PushKind(row.kind),
                payload=dict(row.payload["fields"]),
                collapse_key=row.collapse_key,
                ttl_s=int(row.payload["ttl_s"]),
            ),
            registration=_registration(row),
        )
        for row in rows
    ]


async def finish(
    conn: AsyncConnection,
    delivery_id: int,
    state: DeliveryState,
    attempts: int,
    error: str,
    at: float,
    next_attempt_at: float = 0.0,
) -> None:
    """Record one attempt: sent, dropped, or pending again at `next_attempt_at`."""
    final = state is not DeliveryState.PENDING
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(
            state=state.value,
            attempts=attempts,
            lease_until=0.0,
            last_error=error[:2000],
            next_attempt_at=at if final else next_attempt_at,
            finished_at=at if final else None,
        )
    )


async def purge(conn: AsyncConnection, before: float) -> None:
    """Forget finished pushes older than `before`, and pushes whose device went
    while they were being queued."""
    await conn.execute(
        delete(deliveries).where(
            deliveries.c.state != DeliveryState.PENDING.value,
            deliveries.c.finished_at < before,
        )
    )
    await conn.execute(
        delete(deliveries).where(
            deliveries.c.registration_id.not_in(select(regs.c.id)),
        )
    )


# Pushes staged in the transaction of the change that causes them


async def stage(
    conn: AsyncConnection,
    source: str,
    event: str,
    recipients: Sequence[str],
    data: Mapping[str, Any],
    due_at: float,
) -> None:
    """Note the pushes a change will cause, in the change's transaction."""
    await conn.execute(
        insert(push_staged).values(
            source=source,
            event=event,
            recipients=list(recipients),
            data=dict(data),
            due_at=due_at,
        )
    )


async def unstage(conn: AsyncConnection, source: str) -> bool:
    """Take a staged change; False when another transaction took it first."""
    result = await conn.execute(
        delete(push_staged).where(push_staged.c.source == source)
    )
    return result.rowcount == 1


async def postpone(conn: AsyncConnection, source: str, due_at: float) -> None:
    """Put a staged change back until `due_at`."""
    await conn.execute(
        update(push_staged).where(push_staged.c.source == source).values(due_at=due_at)
    )


async def due_staged(conn: AsyncConnection, now: float, limit: int) -> list[Staged]:
    """Staged changes whose node did not queue their pushes in time."""
    rows = await conn.execute(
        select(push_staged)
        .where(push_staged.c.due_at <= now)
        .order_by(push_staged.c.due_at)
        .limit(limit)
    )
    return [
        Staged(row.source, row.event, list(row.recipients), dict(row.data))
        for row in rows
    ]
