"""Searches, held and owned numbers and operations in the database: all the SQL.

The rule that no number is ever held or owned twice rests on the primary key
of `phone_numbers`: a search claims a number by inserting its row, and an
insert that meets an existing row does nothing. A hold that has expired is
deleted in the same transaction before the insert, so it is free again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from enum import Enum
from itertools import islice
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.storage.engine import Database
from switchboard.storage.numbers_tables import (
    number_operations,
    number_searches,
    phone_numbers,
)
from switchboard.telephony.carriers.base import NumberBlock

HELD, OWNED, PURCHASED = "held", "owned", "purchased"


@dataclass(frozen=True, slots=True)
class Search:
    """A search and the numbers it holds until `expires_at`."""

    id: str
    country: str
    number_type: str
    assignment_type: str
    calling: str
    sms: str
    area_code: str
    quantity: int
    numbers: list[str]
    cost: float
    currency: str
    state: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class PurchasedNumber:
    """A number the resource owns."""

    number: str
    carrier: str
    country: str
    number_type: str
    assignment_type: str
    calling: str
    sms: str
    offered_calling: str
    offered_sms: str
    cost: float
    currency: str
    purchased_at: float


@dataclass(frozen=True, slots=True)
class Operation:
    """A long-running operation as the client polls it."""

    id: str
    kind: str
    status: str
    resource: str
    created_at: float
    updated_at: float
    error_code: str | None = None
    error_message: str | None = None


class PurchaseOutcome(Enum):
    """What became of a purchase attempt."""

    PURCHASED = "purchased"
    NOT_FOUND = "not found"
    EXPIRED = "expired"
    ALREADY_PURCHASED = "already purchased"


def _purchased(row: Any) -> PurchasedNumber:
    return PurchasedNumber(
        number=row.number,
        carrier=row.carrier,
        country=row.country,
        number_type=row.number_type,
        assignment_type=row.assignment_type,
        calling=row.calling,
        sms=row.sms,
        offered_calling=row.offered_calling,
        offered_sms=row.offered_sms,
        cost=row.cost,
        currency=row.currency,
        purchased_at=row.purchased_at,
    )


def _search(row: Any) -> Search:
    return Search(
        id=row.id,
        country=row.country,
        number_type=row.number_type,
        assignment_type=row.assignment_type,
        calling=row.calling,
        sms=row.sms,
        area_code=row.area_code,
        quantity=row.quantity,
        numbers=list(row.numbers),
        cost=row.cost,
        currency=row.currency,
        state=row.state,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _operation(row: Any) -> Operation:
    return Operation(
        id=row.id,
        kind=row.kind,
        status=row.status,
        resource=row.resource,
        created_at=row.created_at,
        updated_at=row.updated_at,
        error_code=row.error_code,
        error_message=row.error_message,
    )


def _operation_values(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "kind": op.kind,
        "status": op.status,
        "resource": op.resource,
        "created_at": op.created_at,
        "updated_at": op.updated_at,
        "error_code": op.error_code,
        "error_message": op.error_message,
    }


class _Undo(Exception):
    """Raised inside a transaction to roll all of it back."""


class NumberStore:
    """Reads and writes the number tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert_ignoring_taken(self) -> Any:
        """An INSERT into phone_numbers that skips numbers already in the table."""
        dialect = sqlite if self._db.is_sqlite else postgresql
        return dialect.insert(phone_numbers).on_conflict_do_nothing(
            index_elements=["number"]
        )

    async def taken(self, first: str, last: str, now: float) -> set[str]:
        """Numbers from `first` to `last` that are owned or held by a live search."""
        query = select(phone_numbers.c.number).where(
            phone_numbers.c.number.between(first, last),
            or_(
                phone_numbers.c.state == OWNED,
                phone_numbers.c.hold_expires_at > now,
            ),
        )
        async with self._db.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

    async def create_search(
        self,
        search: Search,
        candidates: Iterable[tuple[str, NumberBlock]],
        operation: Operation,
    ) -> Search | None:
        """Hold `search.quantity` of the candidates and record the search.

        Returns the search with the numbers it holds, or None, changing nothing,
        when too few of the candidates are free.
        """
        try:
            async with self._db.engine.begin() as conn:
                held = await self._hold(conn, search, candidates)
                if len(held) < search.quantity:
                    raise _Undo

                blocks = dict(held)
                numbers = sorted(blocks)
                stored = replace(
                    search,
                    numbers=numbers,
                    cost=max(blocks[n].monthly_cost for n in numbers),
                    currency=blocks[numbers[0]].currency,
                )
                await conn.execute(insert(number_searches).values(asdict(stored)))
                await conn.execute(
                    insert(number_operations).values(_operation_values(operation))
                )
        except _Undo:
            return None
        return stored

    async def _hold(
        self,
        conn: AsyncConnection,
        search: Search,
        candidates: Iterable[tuple[str, NumberBlock]],
    ) -> list[tuple[str, NumberBlock]]:
        held: list[tuple[str, NumberBlock]] = []
        pending = iter(candidates)
        while len(held) < search.quantity:
            batch = list(islice(pending, search.quantity - len(held)))
            if not batch:
                break
            numbers = [number for number, _ in batch]

            # Free the batch's expired holds, then claim what nobody else has.
            await conn.execute(
                delete(phone_numbers).where(
                    phone_numbers.c.number.in_(numbers),
                    phone_numbers.c.state == HELD,
                    phone_numbers.c.hold_expires_at <= search.created_at,
                )
            )
            await conn.execute(
                self._insert_ignoring_taken(),
                [self._hold_row(search, number, block) for number, block in batch],
            )
            mine = await conn.execute(
                select(phone_numbers.c.number).where(
                    phone_numbers.c.number.in_(numbers),
                    phone_numbers.c.search_id == search.id,
                )
            )
            won = set(mine.scalars())
            held += [(number, block) for number, block in batch if number in won]
        return held

    @staticmethod
    def _hold_row(search: Search, number: str, block: NumberBlock) -> dict[str, Any]:
        return {
            "number": number,
            "state": HELD,
            "search_id": search.id,
            "hold_expires_at": search.expires_at,
            "carrier": block.carrier,
            "country": block.country,
            "number_type": str(block.number_type),
            "assignment_type": search.assignment_type,
            "calling": search.calling,
            "sms": search.sms,
            "offered_calling": block.calling,
            "offered_sms": block.sms,
            "cost": block.monthly_cost,
            "currency": block.currency,
            "purchased_at": None,
        }

    async def search(self, search_id: str) -> Search | None:
        """A search by id."""
        query = select(number_searches).where(number_searches.c.id == search_id)
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _search(row)

    async def purchase(
        self, search_id: str, now: float, operation: Operation
    ) -> PurchaseOutcome:
        """Turn a live search's holds into owned numbers, once."""
        try:
            async with self._db.engine.begin() as conn:
                await self._purchase(conn, search_id, now)
                await conn.execute(
                    insert(number_operations).values(_operation_values(operation))
                )
        except _Undo:
            return await self._why_not(search_id)
        return PurchaseOutcome.PURCHASED

    async def _purchase(
        self, conn: AsyncConnection, search_id: str, now: float
    ) -> None:
        # Claim the search first: of two purchases, only one changes the row.
        claimed = await conn.execute(
            update(number_searches)
            .where(
                number_searches.c.id == search_id,
                number_searches.c.state == HELD,
                number_searches.c.expires_at > now,
            )
            .values(state=PURCHASED)
        )
        if claimed.rowcount != 1:
            raise _Undo

        # Every held number must still be there; a lost hold fails the purchase.
        numbers = (
            await conn.execute(
                select(number_searches.c.numbers).where(
                    number_searches.c.id == search_id
                )
            )
        ).scalar_one()
        owned = await conn.execute(
            update(phone_numbers)
            .where(
                phone_numbers.c.search_id == search_id, phone_numbers.c.state == HELD
            )
            .values(state=OWNED, hold_expires_at=None, purchased_at=now)
        )
        if owned.rowcount != len(numbers):
            raise _Undo

    async def _why_not(self, search_id: str) -> PurchaseOutcome:
        found = await self.search(search_id)
        if found is None:
            return PurchaseOutcome.NOT_FOUND
        if found.state == PURCHASED:
            return PurchaseOutcome.ALREADY_PURCHASED
        return PurchaseOutcome.EXPIRED

    async def owned(self, number: str) -> PurchasedNumber | None:
        """An owned number, or None."""
        query = select(phone_numbers).where(
            phone_numbers.c.number == number, phone_numbers.c.state == OWNED
        )
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _purchased(row)

    async def owned_page(self, skip: int, limit: int) -> list[PurchasedNumber]:
        """Owned numbers in number order, `limit` of them after the first `skip`."""
        query = (
            select(phone_numbers)
            .where(phone_numbers.c.state == OWNED)
            .order_by(phone_numbers.c.number)
            .offset(skip)
            .limit(limit)
        )
        async with self._db.engine.connect() as conn:
            return [_purchased(row) for row in await conn.execute(query)]

    async def update_capabilities(
        self, number: str, calling: str, sms: str, operation: Operation
    ) -> bool:
        """Set an owned number's capabilities; False when it is not owned."""
        try:
            async with self._db.engine.begin() as conn:
                changed = await conn.execute(
                    update(phone_numbers)
                    .where(
                        phone_numbers.c.number == number,
                        phone_numbers.c.state == OWNED,
                    )
                    .values(calling=calling, sms=sms)
                )
                if changed.rowcount != 1:
                    raise _Undo
                await conn.execute(
                    insert(number_operations).values(_operation_values(operation))
                )
        except _Undo:
            return False
        return True

    async def release(self, number: str, operation: Operation) -> bool:
        """Give an owned number back to the inventory; False when it is not owned."""
        try:
            async with self._db.engine.begin() as conn:
                released = await conn.execute(
                    delete(phone_numbers).where(
                        phone_numbers.c.number == number,
                        phone_numbers.c.state == OWNED,
                    )
                )
                if released.rowcount != 1:
                    raise _Undo
                await conn.execute(
                    insert(number_operations).values(_operation_values(operation))
                )
        except _Undo:
            return False
        return True

    async def add_operation(self, operation: Operation) -> None:
        """Record an operation that changed nothing else (a failed one)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(number_operations).values(_operation_values(operation))
            )

    async def operation(self, operation_id: str) -> Operation | None:
        """An operation by id."""
        query = select(number_operations).where(number_operations.c.id == operation_id)
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _operation(row)

    async def delete_operation(self, operation_id: str) -> bool:
        """Forget an operation; False when there is none by that id."""
        async with self._db.engine.begin() as conn:
            gone = await conn.execute(
                delete(number_operations).where(number_operations.c.id == operation_id)
            )
        return bool(gone.rowcount == 1)

    async def prune(self, before: float) -> None:
        """Delete operations, dead searches and stale holds older than `before`."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                delete(number_operations).where(number_operations.c.updated_at < before)
            )
            await conn.execute(
                delete(number_searches).where(number_searches.c.expires_at < before)
            )
            await conn.execute(
                delete(phone_numbers).where(
                    and_(
                        phone_numbers.c.state == HELD,
                        phone_numbers.c.hold_expires_at < before,
                    )
                )
            )
