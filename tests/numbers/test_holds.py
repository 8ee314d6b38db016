"""Holds and purchases racing on one database from two nodes, SQLite and PostgreSQL.

Each "node" is a NumberService with its own engine on the same database, the
way two `switchboard serve` processes share one. A block of three numbers
makes the stock scarce, so every race has losers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from switchboard.config import NumberSettings
from switchboard.core.errors import AcsError
from switchboard.numbers.inventory import AssignmentType, Inventory
from switchboard.numbers.service import (
    CapabilitiesBody,
    NumberService,
    OperationStatus,
    PurchaseBody,
    SearchBody,
)
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import NumberBlock, NumberType
from tests.conftest import POSTGRES_ADMIN

SCARCE = NumberBlock(
    carrier="test",
    country="US",
    number_type=NumberType.GEOGRAPHIC,
    first="+15550000010",
    count=3,
    sms="inbound+outbound",
    calling="none",
    monthly_cost=1.0,
    area_code="555",
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'numbers.db'}"
        return
    name = f"switchboard_numbers_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+asyncpg://"
    )
    yield f"{base}/{name}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[list[NumberService]]:
    databases = [Database(database_url) for _ in range(2)]
    await databases[0].migrate()
    inventory = Inventory([SCARCE])
    yield [NumberService(db, inventory, NumberSettings(), _now) for db in databases]
    for db in databases:
        await db.close()


def _now() -> float:
    return 1_800_000_000.0


def _search(quantity: int = 1) -> SearchBody:
    return SearchBody(
        phoneNumberType=NumberType.GEOGRAPHIC,
        assignmentType=AssignmentType.APPLICATION,
        capabilities=CapabilitiesBody(calling="none", sms="outbound"),
        quantity=quantity,
    )


async def test_racing_searches_hold_each_number_once(
    nodes: list[NumberService],
) -> None:
    searches = [nodes[i % 2].search("US", _search()) for i in range(6)]
    accepted = await asyncio.gather(*searches)

    won = [a for a in accepted if a.operation.status == OperationStatus.SUCCEEDED]
    lost = [a for a in accepted if a.operation.status == OperationStatus.FAILED]
    assert len(won) == 3 and len(lost) == 3
    assert {a.operation.error_code for a in lost} == {"OutOfStock"}
    held = [
        number
        for a in won
        for number in (await nodes[0].search_result(a.resource)).numbers
    ]
    assert sorted(held) == ["+15550000010", "+15550000011", "+15550000012"]


async def test_racing_purchases_of_one_search_buy_it_once(
    nodes: list[NumberService],
) -> None:
    accepted = await nodes[0].search("US", _search(quantity=2))
    body = PurchaseBody(searchId=accepted.resource)

    async def attempt(node: NumberService) -> int:
        try:
            await node.purchase(body)
        except AcsError as exc:
            return exc.status
        return 202

    outcomes = await asyncio.gather(*(attempt(nodes[i % 2]) for i in range(6)))
    assert sorted(outcomes) == [202, 409, 409, 409, 409, 409]
    owned = await nodes[1].page(0, 10)
    assert [n.number for n in owned] == ["+15550000010", "+15550000011"]
    directory = await nodes[1].owned("+15550000011")
    assert directory is not None
    assert (directory.carrier, directory.sms, directory.calling) == (
        "test",
        "outbound",
        "none",
    )
    assert await nodes[1].owned("+15550000012") is None


async def test_a_search_for_more_than_the_stock_changes_nothing(
    nodes: list[NumberService],
) -> None:
    failed = await nodes[0].search("US", _search(quantity=4))
    assert failed.operation.status == OperationStatus.FAILED
    accepted = await nodes[1].search("US", _search(quantity=3))
    assert accepted.operation.status == OperationStatus.SUCCEEDED
