"""SMS queries: each takes the caller's connection, so the service sets transactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.sms.records import RECEIVED, OutboundMessage, OutboundState
from switchboard.storage.sms_tables import sms_inbound_parts, sms_messages, sms_reports
from switchboard.telephony.carriers.base import InboundPart

OUT, IN = "out", "in"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An accepted outbound message, ready to be queued."""

    message: OutboundMessage
    repeatability_id: str | None
    request_hash: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """What an earlier request with the same repeatability id stored."""

    message_id: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A delivery report waiting to be matched to its message."""

    id: int
    status: str
    detail: str
    at: float


def _outbound(row: Any) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        sender=row.sender,
        recipient=row.recipient,
        body=row.body,
        tag=row.tag,
        delivery_report=row.delivery_report,
        segments=row.segments,
        state=OutboundState(row.state),
        carrier=row.carrier,
        carrier_message_id=row.carrier_message_id,
        attempts=row.attempts,
        created_at=row.created_at,
        status_detail=row.status_detail,
    )


async def repeats(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Repeat]:
    """Earlier messages stored under any of these repeatability ids."""
    if not ids:
        return {}
    rows = await conn.execute(
        select(
            sms_messages.c.repeatability_id,
            sms_messages.c.id,
            sms_messages.c.request_hash,
        ).where(sms_messages.c.repeatability_id.in_(list(ids)))
    )
    return {row.repeatability_id: Repeat(row.id, row.request_hash) for row in rows}


async def queue(conn: AsyncConnection, messages: Sequence[NewMessage]) -> None:
    """Store accepted messages in the send queue."""
    if not messages:
        return
    await conn.execute(
        insert(sms_messages),
        [
            {
                "id": new.message.id,
                "direction": OUT,
                "sender": new.message.sender,
                "recipient": new.message.recipient,
                "body": new.message.body,
                "tag": new.message.tag,
                "delivery_report": new.message.delivery_report,
                "segments": new.message.segments,
                "state": OutboundState.QUEUED.value,
                "carrier": new.message.carrier,
                "attempts": 0,
                "next_attempt_at": new.message.created_at,
                "lease_until": 0.0,
                "created_at": new.message.created_at,
                "status_detail": "",
                "repeatability_id": new.repeatability_id,
                "request_hash": new.request_hash,
            }
            for new in messages
        ],
    )


async def claim(
    conn: AsyncConnection,
    carriers: Sequence[str],
    now: float,
    lease_s: float,
    limit: int,
    *,
    skip_locked: bool,
) -> list[OutboundMessage]:
    """Lease queued messages for these carriers that are due, oldest first."""
    query = (
        select(sms_messages)
        .where(
            sms_messages.c.state == OutboundState.QUEUED.value,
            sms_messages.c.carrier.in_(list(carriers)),
            sms_messages.c.next_attempt_at <= now,
            sms_messages.c.lease_until <= now,
        )
        .order_by(sms_messages.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = (await conn.execute(query)).all()
    if not rows:
        return []
    await conn.execute(
        update(sms_messages)
        .where(sms_messages.c.id.in_([row.id for row in rows]))
        .values(lease_until=now + lease_s)
    )
    return [_outbound(row) for row in rows]


async def get_outbound(
    conn: AsyncConnection, message_id: str
) -> OutboundMessage | None:
    """One outbound message."""
    row = (
        await conn.execute(
            select(sms_messages).where(
                sms_messages.c.id == message_id, sms_messages.c.direction == OUT
            )
        )
    ).first()
    return None if row is None else _outbound(row)


async def by_carrier_id(
    conn: AsyncConnection, carrier: str, carrier_message_id: str
) -> OutboundMessage | None:
    """The outbound message a carrier knows by this id."""
    query = select(sms_messages).where(
        sms_messages.c.carrier_message_id == carrier_message_id,
        sms_messages.c.direction == OUT,
    )
    if carrier:
        query = query.where(sms_messages.c.carrier == carrier)
    row = (await conn.execute(query.limit(1))).first()
    return None if row is None else _outbound(row)


async def move(
    conn: AsyncConnection,
    message_id: str,
    old: OutboundState,
    new: OutboundState,
    **values: Any,
) -> bool:
    """Set a message's state if it is still `old`; False when it was not."""
    result = await conn.execute(
        update(sms_messages)
        .where(sms_messages.c.id == message_id, sms_messages.c.state == old.value)
        .values(state=new.value, **values)
    )
    return bool(result.rowcount)


async def lock_carrier_id(conn: AsyncConnection, carrier_message_id: str) -> None:
    """Take turns with every other transaction about this carrier message id.

    A report and the submit outcome that records the id can commit at the same
    time; on PostgreSQL, each would then miss the other's row and the report would
    wait for good. Holding this lock until commit makes the later one see the
    earlier. SQLite writers take turns already.
    """
    await _lock(conn, "sms-carrier-id:" + carrier_message_id)


async def _lock(conn: AsyncConnection, key: str) -> None:
    """Hold a PostgreSQL advisory lock on `key` until the transaction ends."""
    if conn.dialect.name != "postgresql":
        return
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
    )


async def add_report(
    conn: AsyncConnection,
    carrier: str,
    carrier_message_id: str,
    status: str,
    detail: str,
    at: float,
) -> int:
    """Keep a delivery report; returns its id."""
    result = await conn.execute(
        insert(sms_reports).values(
            carrier=carrier,
            carrier_message_id=carrier_message_id,
            status=status,
            detail=detail,
            at=at,
            applied=False,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def pending_reports(
    conn: AsyncConnection, carrier: str, carrier_message_id: str
) -> list[StoredReport]:
    """Reports for this carrier message id not yet applied, oldest first."""
    query = select(sms_reports).where(
        sms_reports.c.carrier_message_id == carrier_message_id,
        sms_reports.c.applied.is_(False),
    )
    if carrier:
        query = query.where(sms_reports.c.carrier.in_([carrier, ""]))
    rows = (await conn.execute(query.order_by(sms_reports.c.id))).all()
    return [StoredReport(row.id, row.status, row.detail, row.at) for row in rows]


async def mark_applied(conn: AsyncConnection, report_ids: Sequence[int]) -> None:
    """Mark reports as matched to their message."""
    if report_ids:
        await conn.execute(
            update(sms_reports)
            .where(sms_reports.c.id.in_(list(report_ids)))
            .values(applied=True)
        )


async def add_inbound(
    conn: AsyncConnection,
    message_id: str,
    sender: str,
    recipient: str,
    text: str,
    carrier: str,
    at: float,
) -> None:
    """Store a message a phone sent to one of the resource's numbers."""
    await conn.execute(
        insert(sms_messages).values(
            id=message_id,
            direction=IN,
            sender=sender,
            recipient=recipient,
            body=text,
            tag="",
            delivery_report=False,
            segments=1,
            state=RECEIVED,
            carrier=carrier,
            attempts=0,
            next_attempt_at=0.0,
            lease_until=0.0,
            created_at=at,
            finished_at=at,
            status_detail="",
        )
    )


# Parts of long incoming messages


def _message_of(carrier: str, part: InboundPart) -> Any:
    c = sms_inbound_parts.c
    return and_(
        c.carrier == carrier,
        c.sender == part.sender,
        c.recipient == part.recipient,
        c.reference == part.reference,
        c.total == part.total,
    )


async def add_part(
    conn: AsyncConnection, carrier: str, part: InboundPart
) -> list[InboundPart] | None:
    """Keep one part; returns every part of its message in order once all are in.

    A part sent twice replaces itself. Concurrent parts of one message take
    turns, so exactly one transaction sees the message complete.
    """
    same = _message_of(carrier, part)
    await _lock(
        conn,
        f"sms-parts:{carrier}:{part.sender}:{part.recipient}:"
        f"{part.reference}:{part.total}",
    )
    await conn.execute(
        delete(sms_inbound_parts).where(
            same, sms_inbound_parts.c.sequence == part.sequence
        )
    )
    await conn.execute(
        insert(sms_inbound_parts).values(
            carrier=carrier,
            sender=part.sender,
            recipient=part.recipient,
            reference=part.reference,
            total=part.total,
            sequence=part.sequence,
            data_coding=part.data_coding,
            payload=part.payload,
            received_at=part.at,
        )
    )
    rows = (
        await conn.execute(
            select(sms_inbound_parts).where(same).order_by(sms_inbound_parts.c.sequence)
        )
    ).all()
    if len(rows) < part.total:
        return None
    await conn.execute(delete(sms_inbound_parts).where(same))
    return [
        InboundPart(
            row.sender, row.recipient, row.reference, row.total, row.sequence,
            row.data_coding, bytes(row.payload), row.received_at,
        )
        for row in rows
    ]  # fmt: skip


async def drop_parts_before(conn: AsyncConnection, before: float) -> list[Any]:
    """Forget the messages whose first part came before `before` and are not whole.

    Returns one row per message dropped: carrier, sender, recipient, reference,
    total, and `parts`, how many had come.
    """
    c = sms_inbound_parts.c
    key = (c.carrier, c.sender, c.recipient, c.reference, c.total)
    stale = select(*key).group_by(*key).having(func.min(c.received_at) < before)
    rows = (
        await conn.execute(
            select(*key, func.count().label("parts"))
            .where(tuple_(*key).in_(stale))
            .group_by(*key)
        )
    ).all()
    if rows:
        await conn.execute(delete(sms_inbound_parts).where(tuple_(*key).in_(stale)))
    return list(rows)
