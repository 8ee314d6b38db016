"""Chat's SQL: every query the chat service runs, on a connection it passes in.

The service owns the transactions; these functions only read and write rows.
The thread row doubles as the thread's counter: allocating a message's
sequence number and id updates it, which also serialises the writers of one
thread on PostgreSQL (a row lock) and on SQLite (one writer at a time).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.chat.content import MessageType
from switchboard.chat.records import Member, Message, Participant, ReadReceipt, Thread
from switchboard.storage.chat_tables import (
    chat_idempotency,
    chat_messages,
    chat_participants,
    chat_read_receipts,
    chat_threads,
)

T = chat_threads
P = chat_participants
M = chat_messages
R = chat_read_receipts


def _millis(now: float) -> int:
    return int(now * 1000)


def _thread(row: Row[Any]) -> Thread:
    return Thread(
        id=row.id,
        topic=row.topic,
        created_by=row.created_by,
        created_at=row.created_at,
        last_message_at=row.last_message_at,
        deleted_at=row.deleted_at,
    )


def _member(row: Row[Any]) -> Member:
    return Member(
        user_id=row.user_id,
        display_name=row.display_name,
        share_history_at=row.share_history_at,
        added_sequence=row.added_sequence,
    )


def _message(row: Row[Any]) -> Message:
    system = json.loads(row.system_json) if row.system_json else {}
    return Message(
        thread_id=row.thread_id,
        id=row.id,
        sequence_id=row.sequence_id,
        version=row.version,
        type=MessageType(row.type),
        created_at=row.created_at,
        sender_id=row.sender_id,
        sender_display_name=row.sender_display_name,
        content=row.content,
        metadata=json.loads(row.metadata_json) if row.metadata_json else {},
        topic=system.get("topic"),
        participants=tuple(
            Participant(p["id"], p.get("name"), p.get("share", 0.0))
            for p in system.get("participants", ())
        ),
        initiator=system.get("initiator"),
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
    )


# Threads


async def insert_thread(conn: AsyncConnection, thread: Thread) -> None:
    """A new thread whose counters start at zero."""
    await conn.execute(
        insert(T).values(
            id=thread.id,
            topic=thread.topic,
            created_by=thread.created_by,
            created_at=thread.created_at,
            last_message_at=thread.last_message_at,
            last_sequence=0,
            last_stamp=0,
        )
    )


async def get_thread(conn: AsyncConnection, thread_id: str) -> Thread | None:
    """The thread, deleted or not."""
    row = (await conn.execute(select(T).where(T.c.id == thread_id))).first()
    return None if row is None else _thread(row)


async def next_message_ids(
    conn: AsyncConnection, thread_id: str, now: float
) -> tuple[int, int] | None:
    """The next (sequence number, id) of a live thread, or None if it is gone.

    The id is the time in milliseconds, moved on past the thread's last id when
    two arrive in the same millisecond.
    """
    stamp = _next_stamp_expr(now)
    row = (
        await conn.execute(
            update(T)
            .where(T.c.id == thread_id, T.c.deleted_at.is_(None))
            .values(last_sequence=T.c.last_sequence + 1, last_stamp=stamp)
            .values(last_message_at=now)
            .returning(T.c.last_sequence, T.c.last_stamp)
        )
    ).first()
    return None if row is None else (row.last_sequence, row.last_stamp)


async def next_version(conn: AsyncConnection, thread_id: str, now: float) -> int | None:
    """A fresh stamp for an edit or a delete, or None if the thread is gone."""
    row = (
        await conn.execute(
            update(T)
            .where(T.c.id == thread_id, T.c.deleted_at.is_(None))
            .values(last_stamp=_next_stamp_expr(now))
            .returning(T.c.last_stamp)
        )
    ).first()
    return None if row is None else int(row.last_stamp)


def _next_stamp_expr(now: float) -> Any:
    now_ms = literal(_millis(now), BigInteger)
    return case((T.c.last_stamp + 1 > now_ms, T.c.last_stamp + 1), else_=now_ms)


async def set_topic(conn: AsyncConnection, thread_id: str, topic: str) -> None:
    """Change the topic."""
    await conn.execute(update(T).where(T.c.id == thread_id).values(topic=topic))


async def mark_deleted(conn: AsyncConnection, thread_id: str, now: float) -> bool:
    """Delete a live thread; False when it was already gone."""
    result = await conn.execute(
        update(T)
        .where(T.c.id == thread_id, T.c.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    return bool(result.rowcount)


async def list_threads(
    conn: AsyncConnection,
    user_id: str,
    since: float | None,
    after: tuple[float, str] | None,
    limit: int,
) -> list[Thread]:
    """The user's live threads, newest first, from the cursor on."""
    query = (
        select(T)
        .join(P, P.c.thread_id == T.c.id)
        .where(P.c.user_id == user_id, T.c.deleted_at.is_(None))
    )
    if since is not None:
        query = query.where(T.c.last_message_at >= since)
    if after is not None:
        created, thread_id = after
        query = query.where(
            or_(
                T.c.created_at < created,
                and_(T.c.created_at == created, T.c.id < thread_id),
            )
        )
    query = query.order_by(T.c.created_at.desc(), T.c.id.desc()).limit(limit)
    return [_thread(row) for row in await conn.execute(query)]


# Participants


async def get_member(
    conn: AsyncConnection, thread_id: str, user_id: str
) -> Member | None:
    """The user's membership, or None when the user is not a participant."""
    row = (
        await conn.execute(
            select(P).where(P.c.thread_id == thread_id, P.c.user_id == user_id)
        )
    ).first()
    return None if row is None else _member(row)


async def member_ids(conn: AsyncConnection, thread_id: str) -> list[str]:
    """Every participant's raw id."""
    result = await conn.execute(select(P.c.user_id).where(P.c.thread_id == thread_id))
    return list(result.scalars())


async def count_members(conn: AsyncConnection, thread_id: str) -> int:
    """How many participants the thread has."""
    result = await conn.execute(
        select(func.count()).select_from(P).where(P.c.thread_id == thread_id)
    )
    return int(result.scalar_one())


async def add_member(
    conn: AsyncConnection,
    thread_id: str,
    participant: Participant,
    sequence: int,
    now: float,
) -> None:
    """A new participant."""
    await conn.execute(
        insert(P).values(
            thread_id=thread_id,
            user_id=participant.user_id,
            display_name=participant.display_name,
            share_history_at=participant.share_history_at,
            added_sequence=sequence,
            added_at=now,
        )
    )


async def update_member(
    conn: AsyncConnection, thread_id: str, participant: Participant
) -> None:
    """A participant named again: its display name and history time change."""
    await conn.execute(
        update(P)
        .where(P.c.thread_id == thread_id, P.c.user_id == participant.user_id)
        .values(
            display_name=participant.display_name,
            share_history_at=participant.share_history_at,
        )
    )


async def remove_member(conn: AsyncConnection, thread_id: str, user_id: str) -> bool:
    """Remove a participant; False when the user was not one."""
    result = await conn.execute(
        delete(P).where(P.c.thread_id == thread_id, P.c.user_id == user_id)
    )
    return bool(result.rowcount)


async def list_members(
    conn: AsyncConnection,
    thread_id: str,
    after: tuple[int, str] | None,
    skip: int,
    limit: int,
) -> list[Member]:
    """Participants in the order they joined, from the cursor on."""
    query = select(P).where(P.c.thread_id == thread_id)
    if after is not None:
        sequence, user_id = after
        query = query.where(
            or_(
                P.c.added_sequence > sequence,
                and_(P.c.added_sequence == sequence, P.c.user_id > user_id),
            )
        )
    query = query.order_by(P.c.added_sequence, P.c.user_id).offset(skip).limit(limit)
    return [_member(row) for row in await conn.execute(query)]


# Messages


def _system_json(message: Message) -> str | None:
    if not message.is_system:
        return None
    return json.dumps(
        {
            "topic": message.topic,
            "initiator": message.initiator,
            "participants": [
                {"id": p.user_id, "name": p.display_name, "share": p.share_history_at}
                for p in message.participants
            ],
        }
    )


async def insert_message(conn: AsyncConnection, message: Message) -> None:
    """Store a new message."""
    await conn.execute(
        insert(M).values(
            thread_id=message.thread_id,
            id=message.id,
            sequence_id=message.sequence_id,
            version=message.version,
            type=message.type.value,
            sender_id=message.sender_id,
            sender_display_name=message.sender_display_name,
            content=message.content,
            metadata_json=json.dumps(dict(message.metadata), ensure_ascii=False)
            if message.metadata
            else None,
            system_json=_system_json(message),
            created_at=message.created_at,
        )
    )


async def get_message(
    conn: AsyncConnection, thread_id: str, message_id: int
) -> Message | None:
    """One message of the thread."""
    row = (
        await conn.execute(
            select(M).where(M.c.thread_id == thread_id, M.c.id == message_id)
        )
    ).first()
    return None if row is None else _message(row)


async def save_edit(conn: AsyncConnection, message: Message) -> None:
    """Write an edited or deleted message's content, metadata, version and times."""
    await conn.execute(
        update(M)
        .where(M.c.thread_id == message.thread_id, M.c.id == message.id)
        .values(
            content=message.content,
            metadata_json=json.dumps(dict(message.metadata), ensure_ascii=False)
            if message.metadata
            else None,
            version=message.version,
            edited_at=message.edited_at,
            deleted_at=message.deleted_at,
        )
    )


async def list_messages(
    conn: AsyncConnection,
    thread_id: str,
    visible_from: float,
    since: float | None,
    before_sequence: int | None,
    limit: int,
) -> list[Message]:
    """Messages newest first, those before the cursor, that the reader may see."""
    query = select(M).where(M.c.thread_id == thread_id, M.c.created_at >= visible_from)
    if since is not None:
        query = query.where(M.c.created_at >= since)
    if before_sequence is not None:
        query = query.where(M.c.sequence_id < before_sequence)
    query = query.order_by(M.c.sequence_id.desc()).limit(limit)
    return [_message(row) for row in await conn.execute(query)]


# Read receipts


async def save_receipt(
    conn: AsyncConnection, thread_id: str, receipt: ReadReceipt
) -> bool:
    """Record the receipt unless the user already read a newer message."""
    result = await conn.execute(
        update(R)
        .where(
            R.c.thread_id == thread_id,
            R.c.user_id == receipt.user_id,
            R.c.message_id <= receipt.message_id,
        )
        .values(message_id=receipt.message_id, read_at=receipt.read_at)
    )
    if result.rowcount:
        return True
    exists = (
        await conn.execute(
            select(R.c.user_id).where(
                R.c.thread_id == thread_id, R.c.user_id == receipt.user_id
            )
        )
    ).first()
    if exists is not None:
        return False
    await conn.execute(
        insert(R).values(
            thread_id=thread_id,
            user_id=receipt.user_id,
            message_id=receipt.message_id,
            read_at=receipt.read_at,
        )
    )
    return True


async def list_receipts(
    conn: AsyncConnection,
    thread_id: str,
    after: str | None,
    skip: int,
    limit: int,
) -> list[ReadReceipt]:
    """The current participants' receipts, by user id, from the cursor on."""
    query = (
        select(R)
        .join(P, and_(P.c.thread_id == R.c.thread_id, P.c.user_id == R.c.user_id))
        .where(R.c.thread_id == thread_id)
    )
    if after is not None:
        query = query.where(R.c.user_id > after)
    query = query.order_by(R.c.user_id).offset(skip).limit(limit)
    return [
        ReadReceipt(row.user_id, row.message_id, row.read_at)
        for row in await conn.execute(query)
    ]


# Idempotency


async def get_idempotent(
    conn: AsyncConnection, user_id: str, request_id: str
) -> tuple[str, dict[str, Any]] | None:
    """The body hash and stored result of an earlier create with this request id."""
    row = (
        await conn.execute(
            select(
                chat_idempotency.c.body_sha256, chat_idempotency.c.result_json
            ).where(
                chat_idempotency.c.user_id == user_id,
                chat_idempotency.c.request_id == request_id,
            )
        )
    ).first()
    if row is None:
        return None
    return row.body_sha256, json.loads(row.result_json)


async def put_idempotent(
    conn: AsyncConnection,
    user_id: str,
    request_id: str,
    body_sha256: str,
    result: dict[str, Any],
    now: float,
) -> None:
    """Remember a create's result under its request id.

    Records are kept as long as the database; nothing expires them yet.
    """
    await conn.execute(
        insert(chat_idempotency).values(
            user_id=user_id,
            request_id=request_id,
            body_sha256=body_sha256,
            result_json=json.dumps(result),
            created_at=now,
        )
    )
