"""Calls storage: reading and writing calls, participants and streams.

Every change to a call starts with `lock_call`, which bumps the call's version
first, so that SQLite takes its write lock before any read and PostgreSQL
holds the row until the transaction ends: changes to one call are serial.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.calls.model import (
    Call,
    CallKind,
    CallState,
    EndReason,
    Participant,
    ParticipantState,
    StreamInfo,
)
from switchboard.storage.calls_tables import call_participants, call_streams, calls


def _call_values(call: Call) -> dict[str, Any]:
    return {
        "kind": call.kind.value,
        "state": call.state.value,
        "created_by": call.created_by,
        "created_at": call.created_at,
        "subject": call.subject,
        "video": call.video,
        "group_id": call.group_id,
        "room_id": call.room_id,
        "active_key": call.active_key,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "end_reason": call.end_reason.value if call.end_reason else None,
        "media_server": call.media_server,
        "media_room": call.media_room,
    }


def _call(row: Any) -> Call:
    return Call(
        id=row.id,
        kind=CallKind(row.kind),
        state=CallState(row.state),
        created_by=row.created_by,
        created_at=row.created_at,
        subject=row.subject,
        video=row.video,
        group_id=row.group_id,
        room_id=row.room_id,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        media_server=row.media_server,
        media_room=row.media_room,
    )


def _participant_values(p: Participant) -> dict[str, Any]:
    return {
        "display_name": p.display_name,
        "state": p.state.value,
        "role": p.role,
        "muted": p.muted,
        "video": p.video,
        "screen_sharing": p.screen_sharing,
        "added_at": p.added_at,
        "joined_at": p.joined_at,
        "left_at": p.left_at,
        "reason": p.reason,
        "session": p.session,
    }


def _participant(row: Any) -> Participant:
    return Participant(
        call_id=row.call_id,
        user=row.user_id,
        display_name=row.display_name,
        state=ParticipantState(row.state),
        role=row.role,
        added_at=row.added_at,
        muted=row.muted,
        video=row.video,
        screen_sharing=row.screen_sharing,
        joined_at=row.joined_at,
        left_at=row.left_at,
        reason=row.reason,
        session=row.session,
    )


async def insert_call(conn: AsyncConnection, call: Call) -> None:
    """Store a new call (IntegrityError when its group or room has one already)."""
    await conn.execute(
        insert(calls).values(id=call.id, version=1, **_call_values(call))
    )


async def save_call(conn: AsyncConnection, call: Call) -> None:
    """Write a call's fields back."""
    await conn.execute(
        update(calls).where(calls.c.id == call.id).values(**_call_values(call))
    )


async def get_call(conn: AsyncConnection, call_id: str) -> Call | None:
    """A call by id, without locking it."""
    row = (await conn.execute(select(calls).where(calls.c.id == call_id))).first()
    return _call(row) if row is not None else None


async def lock_call(conn: AsyncConnection, call_id: str) -> Call | None:
    """Take the call's write lock (by bumping its version) and read it."""
    bumped = await conn.execute(
        update(calls).where(calls.c.id == call_id).values(version=calls.c.version + 1)
    )
    if bumped.rowcount == 0:
        return None
    return await get_call(conn, call_id)


async def active_call_id(conn: AsyncConnection, key: str) -> str | None:
    """The id of the group or room call under way for `key`, if any."""
    row = (
        await conn.execute(select(calls.c.id).where(calls.c.active_key == key))
    ).first()
    return str(row.id) if row is not None else None


async def calls_on_server(conn: AsyncConnection, server: str) -> list[str]:
    """Ids of the calls under way whose media room is on `server`."""
    rows = await conn.execute(
        select(calls.c.id).where(
            calls.c.media_server == server, calls.c.state != CallState.ENDED.value
        )
    )
    return [str(row.id) for row in rows]


async def place(conn: AsyncConnection, call_id: str, server: str, room: int) -> bool:
    """Record where the call's room is, unless another node placed it first."""
    done = await conn.execute(
        update(calls)
        .where(calls.c.id == call_id, calls.c.media_server.is_(None))
        .values(media_server=server, media_room=room)
    )
    return done.rowcount == 1


async def participants(conn: AsyncConnection, call: Call) -> list[Participant]:
    """Everyone invited to or joined the call, in the order they were added.

    Those added at once (a call's starter and callees) keep the starter first.
    """
    rows = await conn.execute(
        select(call_participants).where(call_participants.c.call_id == call.id)
    )
    found = [_participant(row) for row in rows]
    found.sort(key=lambda p: (p.added_at, p.user != call.created_by, p.user))
    return found


async def add_participant(conn: AsyncConnection, p: Participant) -> None:
    """Store a new participant of a call."""
    await conn.execute(
        insert(call_participants).values(
            call_id=p.call_id, user_id=p.user, **_participant_values(p)
        )
    )


async def save_participant(conn: AsyncConnection, p: Participant) -> None:
    """Write a participant's fields back."""
    await conn.execute(
        update(call_participants)
        .where(
            call_participants.c.call_id == p.call_id,
            call_participants.c.user_id == p.user,
        )
        .values(**_participant_values(p))
    )


async def streams(conn: AsyncConnection, call_id: str) -> list[StreamInfo]:
    """The call's publications, oldest feed first."""
    rows = await conn.execute(
        select(call_streams)
        .where(call_streams.c.call_id == call_id)
        .order_by(call_streams.c.feed_id)
    )
    return [StreamInfo(row.feed_id, row.user_id, row.kind) for row in rows]


async def add_stream(conn: AsyncConnection, call_id: str, stream: StreamInfo) -> None:
    """Record a publication."""
    await conn.execute(
        insert(call_streams).values(
            call_id=call_id,
            feed_id=stream.feed_id,
            user_id=stream.user,
            kind=stream.kind,
        )
    )


async def remove_streams(
    conn: AsyncConnection,
    call_id: str,
    *,
    user: str | None = None,
    feed_id: int | None = None,
) -> list[StreamInfo]:
    """Forget a call's publications (all, one user's, or one feed); returns them."""
    where = [call_streams.c.call_id == call_id]
    if user is not None:
        where.append(call_streams.c.user_id == user)
    if feed_id is not None:
        where.append(call_streams.c.feed_id == feed_id)
    rows = await conn.execute(select(call_streams).where(*where))
    gone = [StreamInfo(row.feed_id, row.user_id, row.kind) for row in rows]
    if gone:
        await conn.execute(delete(call_streams).where(*where))
    return gone


async def history(
    conn: AsyncConnection,
    user: str,
    limit: int,
    after: tuple[float, str] | None,
) -> list[Call]:
    """The user's calls, newest first, starting after (created_at, id)."""
    query = (
        select(calls)
        .join(call_participants, call_participants.c.call_id == calls.c.id)
        .where(call_participants.c.user_id == user)
        .order_by(calls.c.created_at.desc(), calls.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        created, call_id = after
        query = query.where(
            or_(
                calls.c.created_at < created,
                and_(calls.c.created_at == created, calls.c.id < call_id),
            )
        )
    return [_call(row) for row in await conn.execute(query)]


async def is_participant(conn: AsyncConnection, call_id: str, user: str) -> bool:
    """Whether the user was ever invited to or joined the call."""
    row = (
        await conn.execute(
            select(call_participants.c.user_id).where(
                call_participants.c.call_id == call_id,
                call_participants.c.user_id == user,
            )
        )
    ).first()
    return row is not None
