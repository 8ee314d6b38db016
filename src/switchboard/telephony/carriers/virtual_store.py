"""The virtual phone network's storage: handsets, their messages, due reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.storage.engine import Database
from switchboard.storage.telephony_tables import virtual_handsets, virtual_messages


class Direction(StrEnum):
    """Which way a message went, seen from the handset."""

    TO_HANDSET = "toHandset"
    FROM_HANDSET = "fromHandset"


class MessageStatus(StrEnum):
    """Where a handset's message stands."""

    PENDING = "pending"
    """To the handset: on its way; takes its outcome when due."""
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    SENDING = "sending"
    """From the handset: being handed to Switchboard."""
    RECEIVED = "received"
    """From the handset: Switchboard stored it."""
    REFUSED = "refused"
    """From the handset: Switchboard did not take it."""


_MOVES: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.PENDING: frozenset(
        {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED}
    ),
    MessageStatus.SENDING: frozenset({MessageStatus.RECEIVED, MessageStatus.REFUSED}),
}
"""The legal status changes; every other status is final."""


@dataclass(frozen=True, slots=True)
class Handset:
    """A phone on the virtual network."""

    number: str
    created_at: float
    last_activity_at: float


@dataclass(frozen=True, slots=True)
class HandsetMessage:
    """One message in a handset's conversation with a Switchboard number."""

    seq: int
    id: str
    handset: str
    peer: str
    """The Switchboard number on the other end."""
    direction: Direction
    text: str
    status: MessageStatus
    outcome: str
    detail: str
    report_requested: bool
    due_at: float | None
    switchboard_id: str
    created_at: float
    settled_at: float | None


def _message(row: Row[Any]) -> HandsetMessage:
    return HandsetMessage(
        seq=row.seq,
        id=row.id,
        handset=row.handset,
        peer=row.peer,
        direction=Direction(row.direction),
        text=row.text,
        status=MessageStatus(row.status),
        outcome=row.outcome,
        detail=row.detail,
        report_requested=bool(row.report_requested),
        due_at=row.due_at,
        switchboard_id=row.switchboard_id,
        created_at=row.created_at,
        settled_at=row.settled_at,
    )


def _handset(row: Row[Any]) -> Handset:
    return Handset(row.number, row.created_at, row.last_activity_at)


class VirtualStore:
    """Queries over the virtual network's tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _touch(
        self, conn: AsyncConnection, number: str, now: float, *, active: bool = True
    ) -> bool:
        """Create the handset if it is new, else mark it active; True when created."""
        dialect = sqlite if self._db.is_sqlite else postgresql
        created = await conn.execute(
            dialect.insert(virtual_handsets)
            .values(number=number, created_at=now, last_activity_at=now)
            .on_conflict_do_nothing(index_elements=["number"])
        )
        if created.rowcount == 1 or not active:
            return created.rowcount == 1
        await conn.execute(
            update(virtual_handsets)
            .where(virtual_handsets.c.number == number)
            .values(last_activity_at=now)
        )
        return False

    async def ensure_handset(self, number: str, now: float) -> tuple[Handset, bool]:
        """The handset with this number, created if new; True when created."""
        async with self._db.engine.begin() as conn:
            created = await self._touch(conn, number, now, active=False)
            row = (
                await conn.execute(
                    select(virtual_handsets).where(virtual_handsets.c.number == number)
                )
            ).one()
        return _handset(row), created

    async def add(self, message: HandsetMessage) -> HandsetMessage:
        """Store a new message and its handset in one transaction; returns it stored."""
        values = {
            "id": message.id,
            "handset": message.handset,
            "peer": message.peer,
            "direction": message.direction.value,
            "text": message.text,
            "status": message.status.value,
            "outcome": message.outcome,
            "detail": message.detail,
            "report_requested": message.report_requested,
            "due_at": message.due_at,
            "lease_until": 0.0,
            "switchboard_id": message.switchboard_id,
            "created_at": message.created_at,
            "settled_at": message.settled_at,
        }
        async with self._db.engine.begin() as conn:
            await self._touch(conn, message.handset, message.created_at)
            result = await conn.execute(
                virtual_messages.insert().values(**values).returning(virtual_messages)
            )
            return _message(result.one())

    async def settle(
        self,
        message_id: str,
        old: MessageStatus,
        new: MessageStatus,
        detail: str,
        now: float,
        *,
        report_due: bool = False,
    ) -> bool:
        """Move a message from `old` to `new`; False when it was not in `old`.

        With `report_due` the message stays due until `reported` is called.
        """
        if new not in _MOVES.get(old, frozenset()):
            raise ValueError(f"a message cannot go from {old} to {new}")
        async with self._db.engine.begin() as conn:
            values: dict[str, Any] = {
                "status": new.value,
                "detail": detail,
                "settled_at": now,
            }
            if not report_due:
                values["due_at"] = None
            result = await conn.execute(
                update(virtual_messages)
                .where(
                    virtual_messages.c.id == message_id,
                    virtual_messages.c.status == old.value,
                )
                .values(**values)
                .returning(virtual_messages.c.handset)
            )
            handset = result.scalar_one_or_none()
            if handset is None:
                return False
            await self._touch(conn, handset, now)
        return True

    async def reported(self, message_id: str) -> None:
        """The message's report is handed over: it is no longer due."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(virtual_messages)
                .where(virtual_messages.c.id == message_id)
                .values(due_at=None)
            )

    async def due(self, now: float, limit: int) -> list[HandsetMessage]:
        """Messages whose outcome is due and that no node holds."""
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(virtual_messages)
                    .where(
                        virtual_messages.c.due_at <= now,
                        virtual_messages.c.lease_until <= now,
                    )
                    .order_by(virtual_messages.c.due_at)
                    .limit(limit)
                )
            ).all()
        return [_message(row) for row in rows]

    async def claim(self, message_id: str, now: float, lease_s: float) -> bool:
        """Hold a due message for `lease_s`; False when another node holds it."""
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update(virtual_messages)
                .where(
                    virtual_messages.c.id == message_id,
                    virtual_messages.c.due_at.is_not(None),
                    virtual_messages.c.lease_until <= now,
                )
                .values(lease_until=now + lease_s)
            )
        return result.rowcount == 1

    async def next_due(self, now: float) -> float | None:
        """When the next outcome no node holds is due; None when nothing waits."""
        async with self._db.engine.connect() as conn:
            found = await conn.scalar(
                select(func.min(virtual_messages.c.due_at)).where(
                    virtual_messages.c.lease_until <= now
                )
            )
        return None if found is None else float(found)

    async def handsets(self, limit: int) -> list[Handset]:
        """Handsets, the most recently active first."""
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(virtual_handsets)
                    .order_by(
                        virtual_handsets.c.last_activity_at.desc(),
                        virtual_handsets.c.number,
                    )
                    .limit(limit)
                )
            ).all()
        return [_handset(row) for row in rows]

    async def handset(self, number: str) -> Handset | None:
        """One handset, or None."""
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(virtual_handsets).where(virtual_handsets.c.number == number)
                )
            ).one_or_none()
        return None if row is None else _handset(row)

    async def messages(self, handsets: list[str], limit: int) -> list[HandsetMessage]:
        """The newest `limit` messages of each handset, oldest first per handset."""
        if not handsets or limit <= 0:
            return []
        ranked = (
            select(
                virtual_messages,
                func.row_number()
                .over(
                    partition_by=virtual_messages.c.handset,
                    order_by=virtual_messages.c.seq.desc(),
                )
                .label("rank"),
            )
            .where(virtual_messages.c.handset.in_(handsets))
            .subquery()
        )
        async with self._db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(ranked)
                    .where(ranked.c.rank <= limit)
                    .order_by(ranked.c.handset, ranked.c.seq)
                )
            ).all()
        return [_message(row) for row in rows]

    async def message(self, message_id: str) -> HandsetMessage | None:
        """One message by its carrier id, or None."""
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(virtual_messages).where(virtual_messages.c.id == message_id)
                )
            ).one_or_none()
        return None if row is None else _message(row)
