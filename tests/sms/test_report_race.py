"""A delivery report racing the submit outcome that records its carrier id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from switchboard.events.outbox import EventOutbox
from switchboard.sms import store
from switchboard.sms.records import OutboundMessage, OutboundState
from switchboard.sms.service import apply_reports
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import DeliveryStatus

NOW = 1_800_000_000.0
CARRIER_ID = "smsc-4711"


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database("postgresql+asyncpg://" + postgres_url.split("://", 1)[1])
    await database.migrate()
    yield database
    await database.close()


async def _no_wake() -> None:
    return None


async def test_a_report_committed_beside_the_submit_outcome_is_applied(
    db: Database,
) -> None:
    message = OutboundMessage(
        id="Outgoing_race", sender="+13125550100", recipient="+13125550199",
        body="hi", tag="", delivery_report=True, segments=1,
        state=OutboundState.QUEUED, carrier="smpp", carrier_message_id=None,
        attempts=0, created_at=NOW,
    )  # fmt: skip
    async with db.engine.begin() as conn:
        await store.queue(conn, [store.NewMessage(message, None, "h")])
    outbox = EventOutbox(_no_wake)

    async def submitted() -> bool:
        # What the SMS sender does once the carrier answered with its id.
        async with db.engine.begin() as conn:
            await store.lock_carrier_id(conn, CARRIER_ID)
            await store.move(
                conn,
                message.id,
                OutboundState.QUEUED,
                OutboundState.SUBMITTED,
                carrier_message_id=CARRIER_ID,
            )
            current = await store.get_outbound(conn, message.id)
            assert current is not None
            return await apply_reports(conn, current, outbox)

    # The report's transaction (as SmsService.report runs it) finds no message
    # yet; while it is open, the submit outcome starts.
    async with db.engine.begin() as conn:
        await store.lock_carrier_id(conn, CARRIER_ID)
        await store.add_report(
            conn, "smpp", CARRIER_ID, DeliveryStatus.DELIVERED.value, "", NOW
        )
        assert await store.by_carrier_id(conn, "smpp", CARRIER_ID) is None
        outcome = asyncio.create_task(submitted())
        await asyncio.sleep(0.3)
        assert not outcome.done(), "the outcome did not wait for the report"

    # Committed: the outcome now sees the report and settles the message.
    assert await outcome
    async with db.engine.begin() as conn:
        settled = await store.get_outbound(conn, message.id)
    assert settled is not None
    assert settled.state is OutboundState.DELIVERED
