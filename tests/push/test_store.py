"""The push outbox's queries on both databases: queue, collapse, claim, purge."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from switchboard.push import store
from switchboard.push.records import (
    DeliveryState,
    Platform,
    Push,
    PushKind,
    Registration,
)
from switchboard.storage.engine import Database
from switchboard.storage.push_tables import push_deliveries, push_registrations

NOW = 1_800_000_000.0


def _device(user: str) -> Registration:
    return Registration(
        str(uuid.uuid4()), user, Platform.FCM, "app", f"tok-{uuid.uuid4()}",
        None, None, NOW, NOW, NOW + 3600,
    )  # fmt: skip


def _message(text: str) -> Push:
    return Push(PushKind.MESSAGE, {"preview": text}, "thread-key", 60)


async def test_a_newer_message_replaces_a_queued_one_of_the_same_thread(
    db: Database,
) -> None:
    device = _device("u1")
    async with db.engine.begin() as conn:
        await store.insert_registration(conn, device)
        await store.enqueue(conn, [device], _message("first"), NOW, NOW + 60)
        await store.enqueue(conn, [device], _message("second"), NOW, NOW + 60)
        call = Push(PushKind.CALL, {"callId": "c"}, "", 30)
        await store.enqueue(conn, [device], call, NOW, NOW + 30)
        claimed = await store.claim(conn, NOW, 30, 10, skip_locked=not db.is_sqlite)

    assert sorted(str(c.push.payload) for c in claimed) == [
        "{'callId': 'c'}",
        "{'preview': 'second'}",
    ]
    assert {c.registration for c in claimed} == {device}


async def test_a_claimed_push_is_not_claimed_again_until_its_lease_ends(
    db: Database,
) -> None:
    device = _device("u2")
    async with db.engine.begin() as conn:
        await store.insert_registration(conn, device)
        await store.enqueue(conn, [device], _message("hi"), NOW, NOW + 600)
    async with db.engine.begin() as conn:
        first = await store.claim(conn, NOW, 30, 10, skip_locked=not db.is_sqlite)
    async with db.engine.begin() as conn:
        during = await store.claim(conn, NOW + 29, 30, 10, skip_locked=not db.is_sqlite)
    async with db.engine.begin() as conn:
        after = await store.claim(conn, NOW + 31, 30, 10, skip_locked=not db.is_sqlite)
        await store.finish(
            conn, after[0].delivery_id, DeliveryState.SENT, 1, "", NOW + 31
        )
        done = await store.claim(conn, NOW + 99, 30, 10, skip_locked=not db.is_sqlite)

    assert len(first) == 1 and during == [] and len(after) == 1 and done == []


async def test_purge_drops_old_finished_pushes_and_orphans(db: Database) -> None:
    kept, orphaned = _device("u3"), _device("u4")
    async with db.engine.begin() as conn:
        for device in (kept, orphaned):
            await store.insert_registration(conn, device)
        [old] = await store.enqueue(conn, [kept], _message("old"), NOW, NOW + 60)
        await store.finish(conn, old, DeliveryState.SENT, 1, "", NOW)
        await store.enqueue(conn, [kept], _message("new"), NOW, NOW + 60)
        await store.enqueue(conn, [orphaned], _message("lost"), NOW, NOW + 60)
        # A registration that went while its push was being queued.
        await conn.execute(
            delete(push_registrations).where(push_registrations.c.id == orphaned.id)
        )
        await store.purge(conn, NOW + 1)
        left = (
            await conn.execute(
                select(push_deliveries.c.registration_id, push_deliveries.c.state)
            )
        ).all()

    assert [tuple(row) for row in left] == [(kept.id, "pending")]
