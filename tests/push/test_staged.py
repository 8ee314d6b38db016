"""A chat message's pushes are noted in its transaction, so a crash cannot lose them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from switchboard.config import load_settings
from switchboard.core.netguard import PeerGuard
from switchboard.events.webhook import WebhookClient
from switchboard.push import store
from switchboard.push.presence import LocalPresence
from switchboard.push.records import Platform, Registration
from switchboard.push.service import STAGED_GRACE_S, PushService
from switchboard.push.vapid import VapidKey
from switchboard.storage.engine import Database
from switchboard.storage.push_tables import push_deliveries, push_staged

ADA, BOB, CY = "8:acs:r_ada", "8:acs:r_bob", "8:acs:r_cy"
EVENT = "chatMessageReceived"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _no_wake() -> None:
    return None


def node(
    db: Database, clock: Clock, presence: LocalPresence | None = None
) -> PushService:
    """The push service of one node, with FCM configured."""
    return PushService(
        db,
        load_settings(environ={}).push,
        frozenset({Platform.FCM}),
        VapidKey(ec.generate_private_key(ec.SECP256R1()), clock),
        presence or LocalPresence(),
        WebhookClient(PeerGuard(), timeout_s=1),
        _no_wake,
        clock,
    )


def message(message_id: str = "1800000000001") -> dict[str, Any]:
    """A `chatMessageReceived` event's data, as chat gives it to the notifier."""
    return {
        "threadId": "19:staged@thread.v2",
        "id": message_id,
        "type": "text",
        "sender": {"rawId": ADA, "communicationUser": {"id": ADA}},
        "senderDisplayName": "Ada",
        "message": "Are you there?",
    }


async def give_phone(db: Database, user: str, clock: Clock) -> str:
    registration = Registration(
        str(uuid.uuid4()), user, Platform.FCM, "app", f"fcm-{uuid.uuid4()}",
        None, None, clock.now, clock.now, clock.now + 3600,
    )  # fmt: skip
    async with db.engine.begin() as conn:
        await store.insert_registration(conn, registration)
    return registration.id


async def send(db: Database, service: PushService, data: dict[str, Any]) -> None:
    """What chat does in the transaction that stores a message."""
    async with db.engine.begin() as conn:
        await service.stage(conn, [ADA, BOB, CY], EVENT, data)


async def count(db: Database, table: Any) -> int:
    async with db.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table))).one()[0]
        )


async def test_the_sending_node_queues_the_pushes_and_takes_the_note(
    db: Database,
) -> None:
    clock = Clock()
    service = node(db, clock)
    await give_phone(db, BOB, clock)
    await give_phone(db, ADA, clock)  # the sender's own phone gets nothing

    await send(db, service, message())
    assert await count(db, push_staged) == 1

    await service.on_event([ADA, BOB, CY], EVENT, message())
    assert await count(db, push_deliveries) == 1
    assert await count(db, push_staged) == 0

    clock.now += STAGED_GRACE_S + 1
    assert await service.release_staged() == 0
    assert await count(db, push_deliveries) == 1


async def test_pushes_of_a_node_that_stopped_after_the_commit_are_queued_by_another(
    db: Database,
) -> None:
    clock = Clock()
    stopped, other = node(db, clock), node(db, clock)
    bob_phone = await give_phone(db, BOB, clock)

    await send(db, stopped, message())
    # The node stops here, before its on_event; the note waits out the grace.
    assert await other.release_staged() == 0
    clock.now += STAGED_GRACE_S
    assert await other.release_staged() == 1

    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(push_deliveries))).all()
    assert [row.registration_id for row in rows] == [bob_phone]
    assert rows[0].payload["fields"]["messageId"] == "1800000000001"
    assert await count(db, push_staged) == 0

    # A second sender finds the note gone and queues nothing.
    assert await node(db, clock).release_staged() == 0
    assert await count(db, push_deliveries) == 1
    # Should the first node still come to it, its push replaces the queued
    # one (same device, same thread): the phone is not told twice.
    await stopped.on_event([ADA, BOB, CY], EVENT, message())
    assert await count(db, push_deliveries) == 1


async def test_a_message_to_people_without_devices_stages_nothing(
    db: Database,
) -> None:
    clock = Clock()
    service = node(db, clock)
    await give_phone(db, ADA, clock)

    await send(db, service, message())
    await service.on_event([ADA, BOB, CY], EVENT, message())

    assert await count(db, push_staged) == 0
    assert await count(db, push_deliveries) == 0


@pytest.mark.parametrize("late", [False, True])
async def test_a_connected_recipient_gets_no_push_and_the_note_goes(
    db: Database, late: bool
) -> None:
    clock = Clock()
    presence = LocalPresence()
    presence.connected(BOB)
    service = node(db, clock, presence)
    await give_phone(db, BOB, clock)

    await send(db, service, message())
    if late:
        clock.now += STAGED_GRACE_S
        assert await service.release_staged() == 1
    else:
        await service.on_event([ADA, BOB, CY], EVENT, message())

    assert await count(db, push_deliveries) == 0
    assert await count(db, push_staged) == 0


async def test_a_device_registered_after_the_message_was_stored_still_gets_it(
    db: Database,
) -> None:
    clock = Clock()
    service = node(db, clock)

    await send(db, service, message())  # nobody has a device yet: no note
    await give_phone(db, BOB, clock)
    await service.on_event([ADA, BOB, CY], EVENT, message())

    assert await count(db, push_deliveries) == 1


async def test_a_note_that_cannot_be_released_waits_behind_the_others(
    db: Database,
) -> None:
    clock = Clock()
    service = node(db, clock)
    await give_phone(db, BOB, clock)
    async with db.engine.begin() as conn:
        broken = {"threadId": "19:staged@thread.v2"}  # no message id
        await store.stage(conn, "19:staged@thread.v2/1", EVENT, [BOB], broken, 0.0)
    await send(db, service, message())
    clock.now += STAGED_GRACE_S

    assert await service.release_staged() == 1
    assert await count(db, push_staged) == 1, "the broken note is kept"
    assert await service.release_staged() == 0, "and not tried again at once"
    async with db.engine.connect() as conn:
        [due] = (await conn.execute(select(push_staged.c.due_at))).all()
    assert due[0] == clock.now + STAGED_GRACE_S
