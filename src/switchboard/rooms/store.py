"""Rooms storage: rows in, records out; every function runs on a given connection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.rooms.roles import Role
from switchboard.storage.rooms_tables import room_participants as P
from switchboard.storage.rooms_tables import room_requests as Q
from switchboard.storage.rooms_tables import rooms as R
from switchboard.storage.tables import users as U


@dataclass(frozen=True, slots=True)
class Room:
    """A room as the Rooms API describes it; times are epoch seconds."""

    id: str
    created_at: float
    valid_from: float
    valid_until: float
    pstn_dial_out_enabled: bool


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A create request seen before: its body's hash and the room it made."""

    body_hash: str
    room: Room


def _room(row: Row[tuple[object, ...]]) -> Room:
    return Room(
        id=row.id,
        created_at=row.created_at,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        pstn_dial_out_enabled=bool(row.pstn_dial_out_enabled),
    )


async def insert_room(conn: AsyncConnection, room: Room) -> None:
    """Add a new room."""
    await conn.execute(
        insert(R).values(
            id=room.id,
            created_at=room.created_at,
            valid_from=room.valid_from,
            valid_until=room.valid_until,
            pstn_dial_out_enabled=room.pstn_dial_out_enabled,
        )
    )


async def get_room(conn: AsyncConnection, room_id: str) -> Room | None:
    """The room, or None when there is none by that id."""
    row = (await conn.execute(select(R).where(R.c.id == room_id))).first()
    return None if row is None else _room(row)


async def save_room(conn: AsyncConnection, room: Room) -> bool:
    """Write a room's changed times and flag; False when it no longer exists."""
    result = await conn.execute(
        update(R)
        .where(R.c.id == room.id)
        .values(
            valid_from=room.valid_from,
            valid_until=room.valid_until,
            pstn_dial_out_enabled=room.pstn_dial_out_enabled,
        )
    )
    return bool(result.rowcount)


async def delete_room(conn: AsyncConnection, room_id: str) -> bool:
    """Delete a room and its participants; False when there was no such room."""
    await conn.execute(delete(P).where(P.c.room_id == room_id))
    result = await conn.execute(delete(R).where(R.c.id == room_id))
    return bool(result.rowcount)


async def list_rooms(
    conn: AsyncConnection, before_seq: int | None, limit: int
) -> list[tuple[int, Room]]:
    """Rooms newest first, from just before `before_seq` on, with their seq."""
    query = select(R)
    if before_seq is not None:
        query = query.where(R.c.seq < before_seq)
    rows = await conn.execute(query.order_by(R.c.seq.desc()).limit(limit))
    return [(row.seq, _room(row)) for row in rows]


async def find_request(conn: AsyncConnection, request_id: str) -> StoredRequest | None:
    """The create request with this repeatability id, if one was seen."""
    row = (await conn.execute(select(Q).where(Q.c.request_id == request_id))).first()
    if row is None:
        return None
    room = Room(
        id=row.room_id,
        created_at=row.created_at,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        pstn_dial_out_enabled=bool(row.pstn_dial_out_enabled),
    )
    return StoredRequest(body_hash=row.body_hash, room=room)


async def insert_request(
    conn: AsyncConnection, request_id: str, body_hash: str, room: Room
) -> None:
    """Remember a create request and the room it made."""
    await conn.execute(
        insert(Q).values(
            request_id=request_id,
            body_hash=body_hash,
            room_id=room.id,
            created_at=room.created_at,
            valid_from=room.valid_from,
            valid_until=room.valid_until,
            pstn_dial_out_enabled=room.pstn_dial_out_enabled,
        )
    )


# Participants


# A deleted user is no longer anyone's participant, even before the clean-up
# that follows the deletion has removed its rows.
_LIVE = P.join(U, U.c.id == P.c.user_id)
_NOT_DELETED = U.c.deleted_at.is_(None)


async def existing_users(conn: AsyncConnection, user_ids: Iterable[str]) -> set[str]:
    """Those of `user_ids` that are users of the resource and not deleted."""
    wanted = list(user_ids)
    if not wanted:
        return set()
    rows = await conn.execute(
        select(U.c.id).where(U.c.id.in_(wanted), U.c.deleted_at.is_(None))
    )
    return {row.id for row in rows}


async def participant_role(
    conn: AsyncConnection, room_id: str, user_id: str
) -> Role | None:
    """The user's role in the room, or None when not a (live) participant."""
    row = (
        await conn.execute(
            select(P.c.role)
            .select_from(_LIVE)
            .where(P.c.room_id == room_id, P.c.user_id == user_id, _NOT_DELETED)
        )
    ).first()
    return None if row is None else Role(row.role)


async def list_participants(
    conn: AsyncConnection, room_id: str, after_user: str | None, limit: int
) -> list[tuple[str, Role]]:
    """The room's participants ordered by raw id, from just after `after_user`."""
    query = (
        select(P.c.user_id, P.c.role)
        .select_from(_LIVE)
        .where(P.c.room_id == room_id, _NOT_DELETED)
    )
    if after_user is not None:
        query = query.where(P.c.user_id > after_user)
    rows = await conn.execute(query.order_by(P.c.user_id).limit(limit))
    return [(row.user_id, Role(row.role)) for row in rows]


async def count_participants(conn: AsyncConnection, room_id: str) -> int:
    """How many live participants the room has."""
    query = (
        select(func.count())
        .select_from(_LIVE)
        .where(P.c.room_id == room_id, _NOT_DELETED)
    )
    return int((await conn.execute(query)).scalar_one())


async def apply_participants(
    conn: AsyncConnection, room_id: str, changes: Mapping[str, Role | None]
) -> None:
    """Set each named participant's role, or remove it where the role is None."""
    for user_id, role in changes.items():
        where = and_(P.c.room_id == room_id, P.c.user_id == user_id)
        if role is None:
            await conn.execute(delete(P).where(where))
            continue
        result = await conn.execute(update(P).where(where).values(role=role.value))
        if not result.rowcount:
            await conn.execute(
                insert(P).values(room_id=room_id, user_id=user_id, role=role.value)
            )


async def remove_user(conn: AsyncConnection, user_id: str) -> int:
    """Remove a user from every room; returns how many rooms it was in."""
    result = await conn.execute(delete(P).where(P.c.user_id == user_id))
    return int(result.rowcount)
