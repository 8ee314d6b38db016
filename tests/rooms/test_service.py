"""RoomsService in-process on a real database: joining a room's call, roles,
and a deleted user leaving every room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from switchboard.auth.tokens import SigningKey, TokenIssuer
from switchboard.bus import MemoryBus
from switchboard.config import RoomsSettings
from switchboard.core.errors import AcsError
from switchboard.core.ids import parse_user_id
from switchboard.identity.service import IdentityService
from switchboard.rooms.roles import Role, RoleCapabilities, capabilities
from switchboard.rooms.service import MAX_WINDOW_S, RoomsService
from switchboard.storage.engine import Database
from switchboard.storage.rooms_tables import room_participants

RESOURCE = "5f0e6a3c-2b1d-4c8e-9a7f-3d2c1b0a9e8d"
DAY = 86400.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Parts:
    db: Database
    clock: FakeClock
    bus: MemoryBus
    identity: IdentityService
    rooms: RoomsService


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'rooms.db'}")
    await db.migrate()
    clock = FakeClock()
    bus = MemoryBus()
    issuer = TokenIssuer(RESOURCE, SigningKey.generate(), clock)
    identity = IdentityService(db, bus, issuer, RESOURCE, clock, cache_s=0)
    rooms = RoomsService(db, bus, RoomsSettings(), RESOURCE, clock)
    await identity.start()
    await rooms.start()
    yield Parts(db, clock, bus, identity, rooms)
    await bus.close()
    await db.close()


async def _room_with(parts: Parts, **roles: Role) -> tuple[str, dict[str, str]]:
    users = {name: (await parts.identity.create_user()).raw for name in roles}
    created = await parts.rooms.create(
        parts.clock.now + DAY,
        parts.clock.now + 2 * DAY,
        False,
        {users[name]: role for name, role in roles.items()},
        None,
    )
    return created.room.id, users


async def test_join_role_is_the_participants_role_inside_the_window(
    parts: Parts,
) -> None:
    room_id, users = await _room_with(
        parts,
        ada=Role.PRESENTER,
        bob=Role.ATTENDEE,
        cy=Role.CONSUMER,
        dee=Role.COLLABORATOR,
    )
    inside = parts.clock.now + 1.5 * DAY
    assert await parts.rooms.join_role(room_id, users["ada"], inside) == "Presenter"
    assert await parts.rooms.join_role(room_id, users["bob"], inside) == "Attendee"
    assert await parts.rooms.join_role(room_id, users["cy"], inside) == "Consumer"
    assert await parts.rooms.join_role(room_id, users["dee"], inside) == "Collaborator"


async def test_join_before_the_room_opens_is_forbidden(parts: Parts) -> None:
    room_id, users = await _room_with(parts, ada=Role.PRESENTER)
    with pytest.raises(AcsError) as caught:
        await parts.rooms.join_role(room_id, users["ada"], parts.clock.now + DAY - 1)
    assert caught.value.status == 403
    assert caught.value.code == "Forbidden"
    assert caught.value.message == (
        f"room {room_id} is not open yet: it opens at 2030-03-18T17:46:40.000Z"
    )


async def test_join_at_or_after_the_room_closes_is_forbidden(parts: Parts) -> None:
    room_id, users = await _room_with(parts, ada=Role.PRESENTER)
    # validUntil is the first moment the room can no longer be joined.
    assert (
        await parts.rooms.join_role(
            room_id, users["ada"], parts.clock.now + 2 * DAY - 1
        )
        == "Presenter"
    )
    for late in (parts.clock.now + 2 * DAY, parts.clock.now + 3 * DAY):
        with pytest.raises(AcsError) as caught:
            await parts.rooms.join_role(room_id, users["ada"], late)
        assert caught.value.status == 403
        assert caught.value.message == (
            f"room {room_id} is closed: it closed at 2030-03-19T17:46:40.000Z"
        )


async def test_join_by_someone_not_in_the_room_is_forbidden(parts: Parts) -> None:
    room_id, _ = await _room_with(parts, ada=Role.PRESENTER)
    stranger = (await parts.identity.create_user()).raw
    with pytest.raises(AcsError) as caught:
        await parts.rooms.join_role(room_id, stranger, parts.clock.now + 1.5 * DAY)
    assert caught.value.status == 403
    assert caught.value.message == f"{stranger} is not a participant of room {room_id}"


async def test_join_of_a_room_that_does_not_exist_is_not_found(parts: Parts) -> None:
    user = (await parts.identity.create_user()).raw
    for room_id in ("12345678901234567", "not-a-room"):
        with pytest.raises(AcsError) as caught:
            await parts.rooms.join_role(room_id, user, parts.clock.now)
        assert caught.value.status == 404
        assert caught.value.message == "The server cannot find the requested resource."


async def test_join_of_a_deleted_room_is_not_found(parts: Parts) -> None:
    room_id, users = await _room_with(parts, ada=Role.PRESENTER)
    await parts.rooms.delete(room_id)
    with pytest.raises(AcsError) as caught:
        await parts.rooms.join_role(room_id, users["ada"], parts.clock.now + 1.5 * DAY)
    assert caught.value.status == 404


async def test_a_role_change_applies_to_the_next_join(parts: Parts) -> None:
    room_id, users = await _room_with(parts, ada=Role.ATTENDEE)
    inside = parts.clock.now + 1.5 * DAY
    assert await parts.rooms.join_role(room_id, users["ada"], inside) == "Attendee"
    await parts.rooms.update_participants(room_id, {users["ada"]: Role.CONSUMER})
    assert await parts.rooms.join_role(room_id, users["ada"], inside) == "Consumer"
    await parts.rooms.update_participants(room_id, {users["ada"]: None})
    with pytest.raises(AcsError) as caught:
        await parts.rooms.join_role(room_id, users["ada"], inside)
    assert caught.value.status == 403


async def test_a_deleted_user_leaves_every_room(parts: Parts) -> None:
    first, users = await _room_with(parts, ada=Role.PRESENTER, bob=Role.ATTENDEE)
    ada = users["ada"]
    second = await parts.rooms.create(None, None, False, {ada: Role.CONSUMER}, None)
    user = parse_user_id(ada)
    assert user is not None
    await parts.identity.delete_user(user)

    # Gone from the lists at once, whether or not the clean-up has run yet.
    page = await parts.rooms.list_participants(first, None, 10)
    assert [raw for raw, _ in page.participants] == [users["bob"]]
    assert (
        await parts.rooms.list_participants(second.room.id, None, 10)
    ).participants == []
    with pytest.raises(AcsError) as caught:
        await parts.rooms.join_role(first, ada, parts.clock.now + 1.5 * DAY)
    assert caught.value.status == 403

    # The clean-up removes the rows, so a user id reused would not inherit them.
    await parts.bus.close()
    async with parts.db.engine.connect() as conn:
        rows = (
            await conn.execute(
                room_participants.select().where(room_participants.c.user_id == ada)
            )
        ).all()
    assert rows == []


async def test_default_window_is_now_to_180_days(parts: Parts) -> None:
    created = await parts.rooms.create(None, None, False, {}, None)
    assert created.room.valid_from == parts.clock.now
    assert created.room.valid_until == parts.clock.now + MAX_WINDOW_S
    assert created.room.created_at == parts.clock.now


async def test_a_given_start_moves_the_default_end(parts: Parts) -> None:
    start = parts.clock.now + 10 * DAY
    created = await parts.rooms.create(start, None, False, {}, None)
    assert created.room.valid_until == start + MAX_WINDOW_S


def test_capabilities_by_role() -> None:
    assert capabilities(Role.PRESENTER) == RoleCapabilities(
        publish=True, share_screen=True, end_call=True
    )
    assert capabilities("Attendee") == RoleCapabilities(
        publish=True, share_screen=False, end_call=False
    )
    assert capabilities("consumer") == RoleCapabilities(
        publish=False, share_screen=False, end_call=False
    )
    assert capabilities(Role.COLLABORATOR) == capabilities(Role.ATTENDEE)
    with pytest.raises(ValueError, match="'Kafka' is not a room role"):
        capabilities("Kafka")
