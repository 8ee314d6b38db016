"""The SMPP carrier against an SMSC built on smpplib (tests/telephony/smsc.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from switchboard.config import SmppLinkSettings
from switchboard.telephony.carriers.base import (
    CarrierError,
    DeliveryReport,
    DeliveryStatus,
    Inbound,
    InboundPart,
    InboundSms,
    OutboundSms,
    text_of,
)
from switchboard.telephony.carriers.smpp import SmppCarrier
from tests.telephony.smsc import Submitted, TestSmsc, gsm_decode, gsm_encode

SENDER = "+14255550100"
RECIPIENT = "+447700900123"


class Recorder:
    """Inbound handlers that keep what they are given."""

    def __init__(self) -> None:
        self.sms: list[InboundSms] = []
        self.parts: list[InboundPart] = []
        self.reports: list[DeliveryReport] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.fail = False

    async def on_sms(self, sms: InboundSms) -> None:
        if self.fail:
            raise RuntimeError("the store is down")
        self.sms.append(sms)

    async def on_part(self, part: InboundPart) -> None:
        if self.fail:
            raise RuntimeError("the store is down")
        self.parts.append(part)

    def messages(self) -> list[str]:
        """The texts of the long messages whose parts all came."""
        found: dict[tuple[int, int], dict[int, InboundPart]] = {}
        for part in self.parts:
            found.setdefault((part.reference, part.total), {})[part.sequence] = part
        return [
            text_of([parts[n] for n in sorted(parts)])
            for (_, total), parts in found.items()
            if len(parts) == total
        ]

    async def on_report(self, report: DeliveryReport) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        self.reports.append(report)

    def inbound(self) -> Inbound:
        return Inbound(
            on_sms=self.on_sms, on_part=self.on_part, on_report=self.on_report
        )


@pytest.fixture
async def smsc() -> AsyncIterator[TestSmsc]:
    server = TestSmsc()
    await server.start()
    yield server
    await server.stop()


def link(smsc: TestSmsc, **overrides: Any) -> SmppLinkSettings:
    options: dict[str, Any] = {
        "name": "smsc",
        "port": smsc.port,
        "system_id": "switchboard",
        "password": "secret",
        "system_type": "SB",
        "window": 10,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "throttle_backoff_s": 0.05,
        "response_timeout_s": 5,
        "submit_wait_s": 10,
    }
    options.update(overrides)
    return SmppLinkSettings.model_validate(options)


@asynccontextmanager
async def running(
    settings: SmppLinkSettings, recorder: Recorder | None = None
) -> AsyncIterator[SmppCarrier]:
    carrier = SmppCarrier(settings)
    await carrier.start((recorder or Recorder()).inbound())
    try:
        yield carrier
    finally:
        await carrier.stop()


def sms(message_id: str, text: str, *, report: bool = False) -> OutboundSms:
    return OutboundSms(
        message_id=message_id,
        sender=SENDER,
        recipient=RECIPIENT,
        text=text,
        delivery_report=report,
    )


def concat(submitted: Submitted) -> tuple[int, int, int, bytes]:
    """(reference, total, sequence, payload) of a part with an 8-bit concat UDH."""
    data = submitted.short_message
    assert submitted.esm_class & 0x40
    assert data[:3] == b"\x05\x00\x03"
    return data[3], data[4], data[5], data[6:]


# Binding


async def test_binds_as_a_transceiver_and_unbinds_on_stop(smsc: TestSmsc) -> None:
    async with running(link(smsc)) as carrier:
        await carrier.ready()
        assert smsc.binds == [("switchboard", 0)]
        assert carrier.number_blocks() == []

    await smsc.wait_for(lambda: smsc.count("unbind") == 1)
    assert [name for name, _ in smsc.received] == ["bind_transceiver", "unbind"]


async def test_a_refused_bind_surfaces_and_submissions_fail_transiently(
    smsc: TestSmsc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = link(smsc, password="wrong", submit_wait_s=0.2)

    async with running(settings) as carrier:
        await smsc.wait_for(lambda: len(smsc.binds) >= 2)
        with pytest.raises(CarrierError) as caught:
            await carrier.submit(sms("Outgoing_1", "Hello"))

    refusal = "bind refused by the SMSC: ESME_RBINDFAIL (0x0000000D)"
    assert smsc.binds[:2] == [("switchboard", 0x0D), ("switchboard", 0x0D)]
    assert carrier.last_error == refusal
    assert str(caught.value) == f"smpp link smsc is not bound: {refusal}"
    assert caught.value.transient is True
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0].getMessage() == f"smpp link smsc: {refusal}"
    assert not any("wrong" in r.getMessage() for r in caplog.records)
    assert smsc.submitted == []


# Submitting


async def test_a_short_gsm_message_is_one_submit_sm(smsc: TestSmsc) -> None:
    text = "Hello {world} \u20ac5 @ caf\u00e9"
    async with running(link(smsc)) as carrier:
        message_id = await carrier.submit(sms("Outgoing_1", text, report=True))

    [got] = smsc.submitted
    assert message_id == got.message_id
    assert (got.source_addr, got.source_addr_ton) == ("14255550100", 1)
    assert (got.destination_addr, got.dest_addr_ton) == ("447700900123", 1)
    assert (got.esm_class, got.data_coding, got.registered_delivery) == (0, 0, 1)
    assert got.short_message == gsm_encode(text)


async def test_a_long_gsm_message_arrives_as_parts_without_a_split_escape(
    smsc: TestSmsc,
) -> None:
    # 152 septets then a two-septet euro sign: part 1 must stop before it.
    text = "a" * 152 + "\u20ac" + "b" * 150 + "[" + "c" * 10
    async with running(link(smsc)) as carrier:
        message_id = await carrier.submit(sms("Outgoing_2", text, report=True))

    parts = [concat(s) for s in smsc.submitted]
    assert [(total, seq) for _, total, seq, _ in parts] == [(3, 1), (3, 2), (3, 3)]
    assert len({ref for ref, _, _, _ in parts}) == 1
    # Both cuts fall where an escape pair would be split: each moves forward.
    assert [len(p) for _, _, _, p in parts] == [152, 152, 12]
    assert [gsm_decode(p) for _, _, _, p in parts] == [
        "a" * 152,
        "\u20ac" + "b" * 150,
        "[" + "c" * 10,
    ]
    assert [s.registered_delivery for s in smsc.submitted] == [0, 0, 1]
    assert {s.data_coding for s in smsc.submitted} == {0}
    assert message_id == smsc.submitted[-1].message_id


async def test_a_long_ucs2_message_arrives_without_a_split_surrogate_pair(
    smsc: TestSmsc,
) -> None:
    text = "\u00e9\u4e2d" * 33 + "\U0001f600" + "\u0416" * 70
    async with running(link(smsc)) as carrier:
        await carrier.submit(sms("Outgoing_3", text))

    parts = [concat(s) for s in smsc.submitted]
    texts = [payload.decode("utf-16-be") for _, _, _, payload in parts]
    assert "".join(texts) == text
    assert texts[0] == "\u00e9\u4e2d" * 33
    assert [len(p) // 2 for _, _, _, p in parts] == [66, 67, 5]
    assert {s.data_coding for s in smsc.submitted} == {8}
    assert {s.registered_delivery for s in smsc.submitted} == {0}


def _unpack(octets: bytes, fill: int) -> bytes:
    bits = int.from_bytes(octets, "little") >> fill
    count = (len(octets) * 8 - fill) // 7
    return bytes((bits >> (7 * i)) & 0x7F for i in range(count))


async def test_packed_gsm_parts_carry_fill_bits_after_the_header(
    smsc: TestSmsc,
) -> None:
    text = "x" * 153 + "{tail}"
    async with running(link(smsc, gsm_packed=True)) as carrier:
        await carrier.submit(sms("Outgoing_4", text))

    first, second = (concat(s) for s in smsc.submitted)
    # A 6-octet header is 48 bits: one fill bit brings it to 7 septets.
    assert len(first[3]) == (1 + 153 * 7 + 7) // 8
    assert gsm_decode(_unpack(first[3], 1)) == "x" * 153
    assert gsm_decode(_unpack(second[3], 1)).rstrip("@") == "{tail}"


async def test_throttling_pauses_the_link_and_the_message_goes_through(
    smsc: TestSmsc,
) -> None:
    smsc.throttle_next = 2
    async with running(link(smsc)) as carrier:
        message_id = await carrier.submit(sms("Outgoing_5", "Hello"))

    [got] = smsc.submitted
    assert message_id == got.message_id
    tries = [at for name, at in smsc.received if name == "submit_sm"]
    assert len(tries) == 3
    # The pause doubles while the SMSC keeps throttling: 0.05 s, then 0.1 s.
    assert tries[1] - tries[0] >= 0.045
    assert tries[2] - tries[1] >= 0.09


async def test_throttling_without_end_fails_transiently(smsc: TestSmsc) -> None:
    smsc.throttle_next = 100
    async with running(link(smsc, submit_attempts=3)) as carrier:
        with pytest.raises(CarrierError) as caught:
            await carrier.submit(sms("Outgoing_6", "Hello"))

    assert str(caught.value) == (
        "smpp link smsc: part 1/1 not taken after 3 tries: "
        "the SMSC answered ESME_RTHROTTLED (0x00000058)"
    )
    assert caught.value.transient is True
    assert smsc.count("submit_sm") == 3


async def test_a_retry_after_a_failure_sends_only_the_parts_not_yet_taken(
    smsc: TestSmsc,
) -> None:
    text = "y" * 300
    # Part 1 is taken, part 2 throttled, and one try is all there is.
    smsc.throttle_after = 1
    async with running(link(smsc, submit_attempts=1)) as carrier:
        with pytest.raises(CarrierError) as caught:
            await carrier.submit(sms("Outgoing_7", text))
        smsc.throttle_after = None
        message_id = await carrier.submit(sms("Outgoing_7", text))

    assert str(caught.value) == (
        "smpp link smsc: part 2/2 not taken after 1 tries: "
        "the SMSC answered ESME_RTHROTTLED (0x00000058)"
    )
    parts = [concat(s) for s in smsc.submitted]
    assert [(ref, total, seq) for ref, total, seq, _ in parts] == [
        (parts[0][0], 2, 1),
        (parts[0][0], 2, 2),
    ]
    assert message_id == smsc.submitted[1].message_id


async def test_a_link_dropped_mid_burst_loses_nothing_and_sends_nothing_twice(
    smsc: TestSmsc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    smsc.drop_after = 12
    texts = {f"Outgoing_{n}": f"burst message {n}" for n in range(30)}
    texts.update({f"Outgoing_long_{n}": f"{n} " + "z" * 200 for n in range(5)})

    async with running(link(smsc, window=8)) as carrier:
        ids = await asyncio.gather(
            *(carrier.submit(sms(key, text)) for key, text in texts.items())
        )

    assert len(smsc.binds) == 2
    singles = [s for s in smsc.submitted if not s.esm_class & 0x40]
    assert sorted(gsm_decode(s.short_message) for s in singles) == sorted(
        t for t in texts.values() if len(t) <= 160
    )
    long_parts: dict[int, dict[int, str]] = {}
    for part in smsc.submitted:
        if part.esm_class & 0x40:
            ref, _, seq, payload = concat(part)
            assert seq not in long_parts.setdefault(ref, {})
            long_parts[ref][seq] = gsm_decode(payload)
    assert sorted(p[1] + p[2] for p in long_parts.values()) == sorted(
        t for t in texts.values() if len(t) > 160
    )
    by_id = {s.message_id: s for s in smsc.submitted}
    assert len(by_id) == len(smsc.submitted) == 30 + 2 * 5
    for text, message_id in zip(texts.values(), ids, strict=True):
        got = by_id[message_id]
        if len(text) <= 160:
            assert gsm_decode(got.short_message) == text
        else:
            assert gsm_decode(concat(got)[3]) == text[153:]
    resent = [r for r in caplog.records if r.getMessage().endswith("sending again")]
    assert resent != []


async def test_an_answer_lost_with_the_link_means_the_part_is_sent_again(
    smsc: TestSmsc,
) -> None:
    # The SMSC takes the message but the link drops before it answers: the
    # carrier cannot tell this from a message the SMSC never read.
    smsc.drop_unanswered = 1
    async with running(link(smsc)) as carrier:
        message_id = await carrier.submit(sms("Outgoing_8", "Sent twice"))

    assert [gsm_decode(s.short_message) for s in smsc.submitted] == [
        "Sent twice",
        "Sent twice",
    ]
    assert message_id == smsc.submitted[1].message_id
    assert len(smsc.binds) == 2


# Receiving


async def test_delivery_receipts_are_matched_to_their_messages(
    smsc: TestSmsc,
) -> None:
    recorder = Recorder()
    async with running(link(smsc), recorder) as carrier:
        ids = [
            await carrier.submit(sms(f"Outgoing_{n}", f"report {n}", report=True))
            for n in range(4)
        ]
        answers = [
            await smsc.send_receipt(ids[3], "REJECTD"),
            await smsc.send_receipt(ids[1], "EXPIRED", tlvs=False),
            await smsc.send_receipt(ids[0], "DELIVRD"),
            await smsc.send_receipt(ids[2], "UNDELIV", err="011", tlvs=False),
        ]

    assert answers == [0, 0, 0, 0]
    assert [(r.carrier_message_id, r.status, r.detail) for r in recorder.reports] == [
        (ids[3], DeliveryStatus.FAILED, "rejected, error 000"),
        (ids[1], DeliveryStatus.EXPIRED, "expired, error 000"),
        (ids[0], DeliveryStatus.DELIVERED, "delivered, error 000"),
        (ids[2], DeliveryStatus.FAILED, "undeliverable, error 011"),
    ]


async def test_a_receipt_is_answered_only_after_the_handler_returned(
    smsc: TestSmsc,
) -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    async with running(link(smsc), recorder) as carrier:
        message_id = await carrier.submit(sms("Outgoing_9", "gated", report=True))
        answer = asyncio.create_task(smsc.send_receipt(message_id, "DELIVRD"))
        await recorder.entered.wait()

        assert smsc.count("deliver_sm_resp") == 0
        recorder.gate.set()
        assert await answer == 0

    assert [r.carrier_message_id for r in recorder.reports] == [message_id]


async def test_incoming_concatenated_sms_arrive_reassembled(smsc: TestSmsc) -> None:
    recorder = Recorder()
    gsm_text = "Long GSM text " * 12 + "with {braces} and \u20ac"
    septets = gsm_encode(gsm_text)
    # Cut at fixed sizes the way smpplib does, which splits an escape pair here.
    cut = septets.index(b"\x1b(") + 1
    gsm_parts = [septets[:cut], septets[cut:]]
    ucs2_text = "\u041f\u0440\u0438\u0432\u0435\u0442 \U0001f44b " * 12
    ucs2 = ucs2_text.encode("utf-16-be")
    ucs2_parts = [ucs2[:134], ucs2[134:]]
    peer = {"source_addr": "447700900123", "source_addr_ton": 1}
    to = {"destination_addr": "14255550100", "dest_addr_ton": 1}

    async with running(link(smsc), recorder) as carrier:
        await carrier.ready()
        answers = [
            await smsc.send_deliver(
                **peer,
                **to,
                esm_class=0x40,
                short_message=b"\x05\x00\x03\x07\x02\x02" + gsm_parts[1],
            ),
            await smsc.send_deliver(
                **peer,
                **to,
                esm_class=0x40,
                data_coding=8,
                short_message=b"\x06\x08\x04\x12\x34\x02\x01" + ucs2_parts[0],
            ),
            await smsc.send_deliver(
                **peer,
                **to,
                esm_class=0x40,
                short_message=b"\x05\x00\x03\x07\x02\x01" + gsm_parts[0],
            ),
            await smsc.send_deliver(**peer, **to, short_message=b"Single"),
            await smsc.send_deliver(
                **peer,
                **to,
                esm_class=0x40,
                data_coding=8,
                short_message=b"\x06\x08\x04\x12\x34\x02\x02" + ucs2_parts[1],
            ),
        ]

    assert answers == [0, 0, 0, 0, 0]
    assert [(s.sender, s.recipient, s.text) for s in recorder.sms] == [
        ("+447700900123", "+14255550100", "Single"),
    ]
    # Each part is handed on as it comes, for the SMS service to keep.
    assert [(p.reference, p.total, p.sequence) for p in recorder.parts] == [
        (7, 2, 2), (0x1234, 2, 1), (7, 2, 1), (0x1234, 2, 2),
    ]  # fmt: skip
    assert {(p.sender, p.recipient) for p in recorder.parts} == {
        ("+447700900123", "+14255550100")
    }
    assert recorder.messages() == [gsm_text, ucs2_text]


async def test_a_failing_handler_is_answered_with_a_temporary_error(
    smsc: TestSmsc,
) -> None:
    recorder = Recorder()
    recorder.fail = True
    async with running(link(smsc), recorder) as carrier:
        await carrier.ready()
        answer = await smsc.send_deliver(
            source_addr="447700900123", destination_addr="14255550100",
            short_message=b"lost?",
        )  # fmt: skip

    assert answer == 0x64
    assert recorder.sms == []


async def test_enquire_link_both_ways(smsc: TestSmsc) -> None:
    async with running(link(smsc, enquire_interval_s=0.05)):
        await smsc.wait_for(lambda: smsc.count("enquire_link") >= 2)
        await smsc.send_enquire_link()
        await smsc.wait_for(lambda: smsc.count("enquire_link_resp") == 1)

    assert len(smsc.binds) == 1
