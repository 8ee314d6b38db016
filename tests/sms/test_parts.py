"""The parts of long incoming messages, kept in the database until each is whole."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.sms import store
from switchboard.storage.engine import Database
from switchboard.storage.sms_tables import sms_inbound_parts
from switchboard.telephony.carriers.base import InboundPart, text_of

NOW = 1_800_000_000.0


def part(sequence: int, payload: bytes, *, reference: int = 42, total: int = 3,
         sender: str = "+447911123456", at: float = NOW) -> InboundPart:  # fmt: skip
    return InboundPart(
        sender, "+13125550100", reference, total, sequence, 0, payload, at
    )


async def add(db: Database, new: InboundPart) -> list[InboundPart] | None:
    async with db.engine.begin() as conn:
        return await store.add_part(conn, "operator-a", new)


async def stored(db: Database) -> int:
    async with db.engine.connect() as conn:
        return len((await conn.execute(sms_inbound_parts.select())).all())


async def test_parts_in_any_order_make_the_message_once_all_are_in(
    db: Database,
) -> None:
    assert await add(db, part(3, b"three")) is None
    assert await add(db, part(1, b"one ")) is None
    # The SMSC sends part 1 again: it replaces itself.
    assert await add(db, part(1, b"one ")) is None
    # Another message from the same phone with another reference waits apart.
    assert await add(db, part(1, b"other", reference=43, total=2)) is None
    assert await stored(db) == 3

    whole = await add(db, part(2, b"two "))

    assert whole is not None
    assert [p.sequence for p in whole] == [1, 2, 3]
    assert text_of(whole) == "one two three"
    assert await stored(db) == 1, "only the other message's part is left"


async def test_concurrent_last_parts_complete_the_message_exactly_once(
    db: Database,
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writers take turns anyway")
    await add(db, part(1, b"a", total=3))

    # Parts 2 and 3 arrive on two links at the same moment.
    async def second() -> list[InboundPart] | None:
        async with db.engine.begin() as conn:
            found = await store.add_part(conn, "operator-a", part(2, b"b"))
            await asyncio.sleep(0.3)  # still uncommitted while part 3 comes
            return found

    first_done = asyncio.create_task(second())
    await asyncio.sleep(0.1)
    results = [await add(db, part(3, b"c")), await first_done]

    assert [r is None for r in results] == [False, True]
    whole = results[0]
    assert whole is not None
    assert text_of(whole) == "abc"
    assert await stored(db) == 0


async def test_messages_that_never_complete_are_dropped_after_a_while(
    db: Database,
) -> None:
    await add(db, part(1, b"old", reference=1, at=NOW - 700))
    await add(db, part(2, b"old", reference=1, at=NOW - 10))
    await add(db, part(1, b"new", reference=2, at=NOW - 100))

    async with db.engine.begin() as conn:
        dropped = await store.drop_parts_before(conn, NOW - 600)

    assert [(row.reference, row.parts, row.total) for row in dropped] == [(1, 2, 3)]
    assert await stored(db) == 1
