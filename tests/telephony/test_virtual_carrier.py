"""The virtual carrier on a real database, with handlers that keep what they get."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from switchboard.bus import MemoryBus
from switchboard.config import TelephonySettings
from switchboard.core.clock import system_clock
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import (
    CarrierError,
    DeliveryReport,
    DeliveryStatus,
    Inbound,
    InboundPart,
    InboundSms,
    NumberType,
    OutboundSms,
)
from switchboard.telephony.carriers.setup import NO_SMS_SERVICE, Carriers
from switchboard.telephony.carriers.virtual import (
    HandsetError,
    VirtualCarrier,
    block_of,
    virtual_blocks,
)
from switchboard.telephony.carriers.virtual_store import Direction, MessageStatus
from tests.conftest import POSTGRES_ADMIN

SENDER = "+14255550100"
HANDSET = "+12125550142"
# Safety limit only: every wait below ends on an event, long before this.
LIMIT_S = 20.0


@dataclass
class Recorder:
    """Inbound handlers that store what they are handed, as the SMS service does."""

    texts: list[InboundSms] = field(default_factory=list)
    reports: list[DeliveryReport] = field(default_factory=list)
    refuse_reports: int = 0
    refuse_texts: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_sms(self, sms: InboundSms) -> None:
        if self.refuse_texts:
            raise CarrierError("the store is full", transient=True)
        self.texts.append(sms)

    async def on_part(self, part: InboundPart) -> None:
        raise AssertionError(f"the virtual network sends texts whole, not {part}")

    async def on_report(self, report: DeliveryReport) -> None:
        if self.refuse_reports > 0:
            self.refuse_reports -= 1
            raise RuntimeError("the database is away")
        self.reports.append(report)
        self.arrived.set()

    def inbound(self) -> Inbound:
        return Inbound(
            on_sms=self.on_sms, on_part=self.on_part, on_report=self.on_report
        )

    async def wait_for(self, count: int) -> list[DeliveryReport]:
        async def enough() -> None:
            while len(self.reports) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), LIMIT_S)
        return list(self.reports)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of this module's own, so no other node settles its messages."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("virtual")
        yield f"sqlite+aiosqlite:///{folder / 'switchboard.db'}"
        return
    name = f"switchboard_virtual_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "")
    yield f"postgresql+asyncpg://{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def carrier_on(db: Database, **settings: float) -> VirtualCarrier:
    options = {"virtual_report_delay_s": 0.0, **settings}
    return VirtualCarrier(
        db, MemoryBus(), TelephonySettings.model_validate(options), system_clock
    )


@pytest.fixture
async def network(db: Database) -> AsyncIterator[tuple[VirtualCarrier, Recorder]]:
    carrier = carrier_on(db)
    recorder = Recorder()
    await carrier.start(recorder.inbound())
    yield carrier, recorder
    await carrier.stop()


_USED: set[int] = set()


def handset() -> str:
    """A fresh handset number in a range kept for drama (Ofcom, Leeds).

    Numbers ending in 96 to 99 are the network's test numbers, so none is drawn.
    """
    while True:
        n = uuid.uuid4().int % 1000
        if n % 100 < 96 and n not in _USED:
            _USED.add(n)
            return f"+441134960{n:03d}"


def sms(
    to: str, text: str = "Your code is 424242", *, report: bool = True
) -> OutboundSms:
    return OutboundSms(f"Outgoing_{uuid.uuid4()}", SENDER, to, text, report)


def test_the_blocks_are_ranges_kept_for_fiction() -> None:
    blocks = virtual_blocks("virtual")

    assert [(b.country, b.number_type, b.first, b.count) for b in blocks] == [
        ("US", NumberType.GEOGRAPHIC, "+14255550100", 100),
        ("US", NumberType.GEOGRAPHIC, "+12065550100", 100),
        ("US", NumberType.TOLL_FREE, "+18005550100", 100),
        ("GB", NumberType.GEOGRAPHIC, "+442079460000", 1000),
        ("GB", NumberType.MOBILE, "+447700900000", 1000),
    ]
    assert {b.carrier for b in blocks} == {"virtual"}
    assert [b.sms for b in blocks] == ["inbound+outbound"] * 3 + [
        "none",
        "inbound+outbound",
    ]
    assert [b.monthly_cost for b in blocks] == [1.0, 1.0, 2.0, 1.0, 1.5]


def test_a_number_is_in_a_block_from_its_first_to_its_last() -> None:
    blocks = virtual_blocks("virtual")

    assert block_of(blocks, "+14255550100") is blocks[0]
    assert block_of(blocks, "+14255550199") is blocks[0]
    assert block_of(blocks, "+14255550200") is None
    assert block_of(blocks, "+14255550099") is None
    assert block_of(blocks, "+447700900999") is blocks[4]
    assert block_of(blocks, "+1425555010") is None
    assert block_of(blocks, "+1425555010x") is None


async def test_a_message_lands_on_the_handset_and_is_reported_delivered(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, recorder = network
    to = handset()
    message = sms(to, "Hello 👋 from Switchboard")

    carrier_id = await carrier.submit(message)
    reports = await recorder.wait_for(1)

    assert carrier_id.startswith("vm-")
    assert [(r.carrier_message_id, r.status, r.detail) for r in reports] == [
        (carrier_id, DeliveryStatus.DELIVERED, "delivered to the handset")
    ]
    found = await carrier.conversation(to, 10)
    assert found is not None
    phone, messages = found
    assert phone.number == to
    assert [(m.id, m.peer, m.direction, m.text, m.status) for m in messages] == [
        (
            carrier_id,
            SENDER,
            Direction.TO_HANDSET,
            "Hello 👋 from Switchboard",
            MessageStatus.DELIVERED,
        )
    ]
    assert messages[0].switchboard_id == message.message_id


async def test_without_a_report_request_the_message_settles_silently(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, recorder = network
    to = handset()

    quiet = await carrier.submit(sms(to, "no report", report=False))
    # Settled in due order: once the later one is reported, the first is settled.
    loud = await carrier.submit(sms(to, "with report"))
    reports = await recorder.wait_for(1)

    assert [r.carrier_message_id for r in reports] == [loud]
    found = await carrier.conversation(to, 10)
    assert found is not None
    assert [(m.id, m.status, m.report_requested) for m in found[1]] == [
        (quiet, MessageStatus.DELIVERED, False),
        (loud, MessageStatus.DELIVERED, True),
    ]


@pytest.mark.parametrize(
    ("suffix", "status", "detail"),
    [
        ("99", DeliveryStatus.FAILED, "the handset refused the message (test number)"),
        (
            "98",
            DeliveryStatus.EXPIRED,
            "the handset stayed unreachable until the message expired (test number)",
        ),
    ],
)
async def test_test_numbers_fail_or_expire(
    network: tuple[VirtualCarrier, Recorder],
    suffix: str,
    status: DeliveryStatus,
    detail: str,
) -> None:
    carrier, recorder = network
    to = f"+121255501{suffix}"

    carrier_id = await carrier.submit(sms(to))
    reports = await recorder.wait_for(1)

    assert [(r.carrier_message_id, r.status, r.detail) for r in reports] == [
        (carrier_id, status, detail)
    ]
    found = await carrier.conversation(to, 10)
    assert found is not None
    assert [m.status.value for m in found[1]] == [status.value.lower()]


async def test_test_numbers_refuse_submission(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, _ = network

    with pytest.raises(CarrierError) as congested:
        await carrier.submit(sms("+12125550197"))
    with pytest.raises(CarrierError) as unknown:
        await carrier.submit(sms("+12125550196"))

    assert (str(congested.value), congested.value.transient) == (
        "the network is congested (test number ending in 97)",
        True,
    )
    assert (str(unknown.value), unknown.value.transient) == (
        "+12125550196 is not in service (test number ending in 96)",
        False,
    )
    assert await carrier.conversation("+12125550197", 10) is None


@pytest.mark.parametrize(
    ("sender", "recipient", "error"),
    [
        (
            "+12125550100",
            HANDSET,
            "+12125550100 is not a number of the virtual network that sends SMS",
        ),
        (
            "+442079460001",
            HANDSET,
            "+442079460001 is not a number of the virtual network that sends SMS",
        ),
        (SENDER, "0042 555", "'0042 555' is not an E.164 phone number"),
        (
            SENDER,
            "+18005550123",
            "+18005550123 is a Switchboard number; the virtual network does not "
            "route messages back to Switchboard",
        ),
    ],
)
async def test_unroutable_messages_are_refused_for_good(
    network: tuple[VirtualCarrier, Recorder], sender: str, recipient: str, error: str
) -> None:
    carrier, _ = network

    with pytest.raises(CarrierError) as refused:
        await carrier.submit(OutboundSms("Outgoing_x", sender, recipient, "hi", True))

    assert (str(refused.value), refused.value.transient) == (error, False)


async def test_configured_rates_fail_and_expire_messages(db: Database) -> None:
    failing, expiring = (
        carrier_on(db, virtual_failure_rate=1.0),
        carrier_on(db, virtual_expiry_rate=1.0),
    )
    recorder = Recorder()
    await failing.start(recorder.inbound())
    await expiring.start(recorder.inbound())
    try:
        failed = await failing.submit(sms(handset()))
        expired = await expiring.submit(sms(handset()))
        reports = await recorder.wait_for(2)
    finally:
        await failing.stop()
        await expiring.stop()

    assert sorted(
        (r.carrier_message_id, r.status, r.detail) for r in reports
    ) == sorted(
        [
            (
                failed,
                DeliveryStatus.FAILED,
                "the network could not deliver the message",
            ),
            (
                expired,
                DeliveryStatus.EXPIRED,
                "the handset stayed unreachable until the message expired",
            ),
        ]
    )


async def test_a_handset_texts_switchboard(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, recorder = network
    phone = handset()

    sent = await carrier.send_from_handset(phone, "+18005550142", "STOP ✋")

    assert [(t.sender, t.recipient, t.text) for t in recorder.texts] == [
        (phone, "+18005550142", "STOP ✋")
    ]
    assert (sent.direction, sent.status, sent.detail, sent.peer) == (
        Direction.FROM_HANDSET,
        MessageStatus.RECEIVED,
        "Switchboard received the message",
        "+18005550142",
    )
    found = await carrier.conversation(phone, 10)
    assert found is not None
    assert [m.id for m in found[1]] == [sent.id]


async def test_a_text_switchboard_refuses_is_marked_refused(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, recorder = network
    recorder.refuse_texts = True

    sent = await carrier.send_from_handset(handset(), SENDER, "are you there?")

    assert (sent.status, sent.detail) == (
        MessageStatus.REFUSED,
        "Switchboard refused it: the store is full",
    )


@pytest.mark.parametrize(
    ("phone", "to", "text", "error"),
    [
        (HANDSET, "+12125550100", "hi", "+12125550100 is not a Switchboard number on "
         "the virtual network"),
        (HANDSET, "+442079460005", "hi", "+442079460005 does not receive SMS"),
        (HANDSET, SENDER, "", "the text is empty"),
        (HANDSET, SENDER, "x" * 1601, "the text is 1601 characters long; the most a "
         "handset sends is 1600"),
        ("+14255550101", SENDER, "hi", "+14255550101 is a Switchboard number, not a "
         "handset"),
        ("12125550142", SENDER, "hi", "'12125550142' is not an E.164 phone number"),
    ],
)  # fmt: skip
async def test_a_handset_cannot_send_what_the_network_does_not_carry(
    network: tuple[VirtualCarrier, Recorder],
    phone: str,
    to: str,
    text: str,
    error: str,
) -> None:
    carrier, recorder = network

    with pytest.raises(HandsetError) as refused:
        await carrier.send_from_handset(phone, to, text)

    assert str(refused.value) == error
    assert recorder.texts == []


async def test_a_report_due_at_a_restart_is_sent_after_it(db: Database) -> None:
    first = carrier_on(db, virtual_report_delay_s=0.5)
    before = Recorder()
    await first.start(before.inbound())
    to = handset()
    carrier_id = await first.submit(sms(to, "sent before the restart"))
    await first.stop()

    second = carrier_on(db)
    after = Recorder()
    await second.start(after.inbound())
    try:
        reports = await after.wait_for(1)
        found = await second.conversation(to, 10)
    finally:
        await second.stop()

    assert before.reports == []
    assert [(r.carrier_message_id, r.status) for r in reports] == [
        (carrier_id, DeliveryStatus.DELIVERED)
    ]
    assert found is not None
    assert [(m.text, m.status) for m in found[1]] == [
        ("sent before the restart", MessageStatus.DELIVERED)
    ]


async def test_a_refused_report_is_sent_again(db: Database) -> None:
    carrier = VirtualCarrier(
        db,
        MemoryBus(),
        TelephonySettings(virtual_report_delay_s=0.0),
        system_clock,
        lease_s=0.1,
    )
    recorder = Recorder(refuse_reports=1)
    await carrier.start(recorder.inbound())
    try:
        carrier_id = await carrier.submit(sms(handset()))
        reports = await recorder.wait_for(1)
    finally:
        await carrier.stop()

    assert recorder.refuse_reports == 0
    assert [r.carrier_message_id for r in reports] == [carrier_id]


async def test_two_nodes_report_each_message_once(db: Database) -> None:
    nodes = [carrier_on(db), carrier_on(db)]
    recorder = Recorder()
    for node in nodes:
        await node.start(recorder.inbound())
    try:
        ids = [await nodes[n % 2].submit(sms(handset())) for n in range(6)]
        reports = await recorder.wait_for(6)
    finally:
        for node in nodes:
            await node.stop()

    assert sorted(r.carrier_message_id for r in reports) == sorted(ids)


async def test_a_change_wakes_a_waiting_poll(
    network: tuple[VirtualCarrier, Recorder],
) -> None:
    carrier, _ = network
    mark = carrier.generation

    waiting = asyncio.create_task(carrier.wait_for_change(mark, LIMIT_S))
    await asyncio.sleep(0)
    assert not waiting.done()
    await carrier.add_handset(handset())
    await asyncio.wait_for(waiting, LIMIT_S)

    assert carrier.generation != mark
    # A mark from another node or an earlier run answers at once.
    await asyncio.wait_for(carrier.wait_for_change("elsewhere.3", LIMIT_S), 1)


async def test_carriers_start_with_the_handlers_set_before(db: Database) -> None:
    carrier = carrier_on(db)
    carriers = Carriers([carrier])
    recorder = Recorder()
    carriers.set_inbound(recorder.inbound())
    await carriers.start()
    try:
        with pytest.raises(RuntimeError) as late:
            carriers.set_inbound(NO_SMS_SERVICE)
        await carrier.send_from_handset(handset(), SENDER, "hello")
    finally:
        await carriers.stop()

    assert str(late.value) == "the carriers are started; set the handlers before"
    assert [t.text for t in recorder.texts] == ["hello"]
    assert carriers.virtual is carrier
    assert carriers.for_number("+447700900123") is carrier
    assert carriers.for_number("+12125550142") is None
    assert carriers.get("virtual") is carrier
    assert len(carriers.blocks()) == 5


async def test_without_an_sms_service_texts_are_refused(db: Database) -> None:
    carrier = carrier_on(db)
    await carrier.start(NO_SMS_SERVICE)
    try:
        sent = await carrier.send_from_handset(handset(), SENDER, "hello?")
    finally:
        await carrier.stop()

    assert (sent.status, sent.detail) == (
        MessageStatus.REFUSED,
        "Switchboard refused it: this node has no SMS service to take the message",
    )


def test_rates_above_one_together_are_refused() -> None:
    with pytest.raises(ValueError) as invalid:
        TelephonySettings(virtual_failure_rate=0.6, virtual_expiry_rate=0.5)

    assert "virtual_failure_rate and virtual_expiry_rate add up to more than 1" in str(
        invalid.value
    )
