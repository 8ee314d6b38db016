"""The dispatcher against a real receiver: handshakes, signing, order, retries."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent
from prometheus_client import CollectorRegistry

from switchboard.bus import MemoryBus
from switchboard.config import EventSettings, load_settings
from switchboard.events.dispatcher import Dispatcher
from switchboard.events.model import PREFIX, Envelope, Event
from switchboard.events.outbox import EventOutbox, emit
from switchboard.events.service import EventSubscriptions, SubscriptionBody
from switchboard.events.setup import build_events
from switchboard.events.signing import HEADER, verify_signature
from switchboard.storage.engine import Database
from tests.events.receiver import Received, Receiver

RECEIVED = PREFIX + "ChatMessageReceived"
IN_THREAD = PREFIX + "ChatMessageReceivedInThread"


@dataclass
class Harness:
    db: Database
    events: EventSubscriptions
    dispatcher: Dispatcher
    receiver: Receiver

    async def subscribe(self, name: str = "hook", **fields: object) -> str:
        body = SubscriptionBody.model_validate(
            {"targetUrl": self.receiver.url, **fields}
        )
        _, _, secret = await self.events.put(name, body)
        await self.dispatcher.run_once()
        assert (await self.events.get(name)).state == "active"
        return secret or str(fields.get("secret"))

    async def emit(self, *events: Event) -> None:
        async with self.db.engine.begin() as conn:
            await emit(conn, events)

    async def drain(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            if not await self.dispatcher.run_once():
                return

    async def until(self, done: Callable[[], Awaitable[bool]]) -> None:
        """Run the dispatcher (retries are due in milliseconds) until `done`."""
        for _ in range(500):
            await self.dispatcher.run_once()
            if await done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the dispatcher did not get there")


def chat_event(n: int, subject: str = "thread/19:a@thread.v2/sender/8:acs:x") -> Event:
    return Event(
        type=RECEIVED,
        subject=subject,
        data={"messageBody": f"message {n}", "messageId": str(n), "threadId": "t"},
        time=time.time(),
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = load_settings(
        overrides={
            "server": {"data_dir": tmp_path},
            "events": {
                "allowed_targets": ["127.0.0.0/8"],
                "retry_base_s": 0.01,
                "retry_max_s": 0.05,
            },
        },
        environ={},
    )
    db = Database(settings.database_url)
    await db.migrate()
    receiver = Receiver()
    await receiver.start()
    events, dispatcher = build_events(
        settings, db, MemoryBus(), "res", time.time, CollectorRegistry()
    )
    yield Harness(db, events, dispatcher, receiver)
    await dispatcher.stop()
    await receiver.stop()
    await db.close()


async def test_event_grid_handshake_then_signed_delivery(harness: Harness) -> None:
    secret = await harness.subscribe()
    handshake = harness.receiver.received[0]
    assert handshake.headers["aeg-event-type"] == "SubscriptionValidation"
    validation = EventGridEvent.from_dict(handshake.json()[0])
    assert validation.event_type == "Microsoft.EventGrid.SubscriptionValidationEvent"

    event = chat_event(1)
    await harness.emit(event)
    await harness.drain()
    [delivery] = harness.receiver.events()
    assert delivery.headers["Content-Type"].startswith("application/json")
    assert verify_signature(
        secret, delivery.body, delivery.headers[HEADER], time.time()
    )
    assert not verify_signature(
        secret, delivery.body + b" ", delivery.headers[HEADER], time.time()
    )
    parsed = EventGridEvent.from_dict(delivery.json()[0])
    assert parsed.id == event.id
    assert parsed.event_type == RECEIVED
    assert parsed.subject == event.subject
    assert parsed.data == event.data
    assert parsed.data_version == "1.0"


async def test_cloudevents_handshake_and_structured_delivery(harness: Harness) -> None:
    await harness.subscribe(envelope="cloudevents", secret="s" * 20)
    options = harness.receiver.received[0]
    assert options.method == "OPTIONS"
    assert options.headers["WebHook-Request-Origin"] == "localhost"

    event = chat_event(2)
    await harness.emit(event)
    await harness.drain()
    [delivery] = harness.receiver.events()
    assert delivery.headers["Content-Type"].startswith("application/cloudevents+json")
    parsed = CloudEvent.from_dict(delivery.json())
    assert (parsed.id, parsed.type, parsed.subject) == (
        event.id,
        RECEIVED,
        event.subject,
    )
    assert parsed.specversion == "1.0"
    assert parsed.data == event.data


async def test_failed_handshake_keeps_the_subscription_from_delivering(
    harness: Harness,
) -> None:
    harness.receiver.handshake = False
    body = SubscriptionBody.model_validate(
        {"targetUrl": harness.receiver.url, "envelope": "cloudevents"}
    )
    await harness.events.put("shy", body)
    await harness.dispatcher.run_once()
    sub = await harness.events.get("shy")
    assert sub.state == "awaitingValidation"
    assert sub.state_detail == "validation failed: OPTIONS answered HTTP 403"
    await harness.emit(chat_event(3))
    await harness.drain()
    assert harness.receiver.events() == []


async def test_filters_by_type_and_subject(harness: Harness) -> None:
    await harness.subscribe(eventTypes=[IN_THREAD], subjectBeginsWith="thread/19:b")
    await harness.emit(
        chat_event(1, "thread/19:b@thread.v2/sender/x"),
        Event(IN_THREAD, "thread/19:a@thread.v2/sender/x", {"n": 2}, time.time()),
        Event(IN_THREAD, "thread/19:b@thread.v2/sender/x", {"n": 3}, time.time()),
    )
    await harness.drain()
    assert [d.json()[0]["data"] for d in harness.receiver.events()] == [{"n": 3}]


async def test_retries_in_order_with_the_same_event_id(harness: Harness) -> None:
    await harness.subscribe()
    harness.receiver.script = [503, 429, 500]
    events = [chat_event(n) for n in range(5)]
    await harness.emit(*events)

    async def all_arrived() -> bool:
        return len(harness.receiver.events()) >= 8

    await harness.until(all_arrived)
    ids = [d.json()[0]["id"] for d in harness.receiver.events()]
    # The first event is tried four times before anything behind it.
    assert ids[:4] == [events[0].id] * 4
    assert ids[4:] == [e.id for e in events[1:]]
    counts = [d.headers["aeg-delivery-count"] for d in harness.receiver.events()]
    assert counts[:4] == ["0", "1", "2", "3"]


async def test_permanent_failures_and_exhausted_retries_are_dead_lettered(
    harness: Harness,
) -> None:
    await harness.subscribe(retryPolicy={"maxDeliveryAttempts": 2})
    harness.receiver.script = [400, 500, 500]
    # One subject, so the receiver sees them in order: first 400, then 500 twice.
    first, second = chat_event(1), chat_event(2)
    await harness.emit(first, second)

    async def both_dead() -> bool:
        return len(await harness.events.dead_letters("hook", 0, 10)) == 2

    await harness.until(both_dead)
    dead = await harness.events.dead_letters("hook", 0, 10)
    assert [(d.event_id, d.attempts, d.last_error) for d in dead] == [
        (first.id, 1, "HTTP 400"),
        (second.id, 2, "HTTP 500"),
    ]

    # Replay one: it is delivered (the receiver now answers 200).
    assert await harness.events.replay("hook", dead[0].delivery_id) == 1
    await harness.drain()
    assert harness.receiver.events()[-1].json()[0]["id"] == first.id
    remaining = await harness.events.dead_letters("hook", 0, 10)
    assert [d.event_id for d in remaining] == [second.id]


async def test_a_target_dns_cannot_resolve_for_a_while_is_retried(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.subscribe()
    loop = asyncio.get_running_loop()
    resolve = loop.getaddrinfo
    outages = [socket.EAI_AGAIN, socket.EAI_NONAME]

    async def flaky_dns(*args: Any, **kwargs: Any) -> Any:
        if outages:
            raise socket.gaierror(outages.pop(0), "DNS is down")
        return await resolve(*args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", flaky_dns)
    event = chat_event(1)
    await harness.emit(event)

    async def arrived() -> bool:
        return len(harness.receiver.events()) == 1

    await harness.until(arrived)
    [delivery] = harness.receiver.events()
    assert delivery.json()[0]["id"] == event.id
    assert delivery.headers["aeg-delivery-count"] == "2"
    assert await harness.events.dead_letters("hook", 0, 10) == []


async def test_redirects_are_not_followed(harness: Harness) -> None:
    body = SubscriptionBody.model_validate(
        {"targetUrl": harness.receiver.url.replace("/hook", "/redirect")}
    )
    await harness.events.put("moved", body)
    await harness.dispatcher.run_once()
    sub = await harness.events.get("moved")
    assert sub.state == "awaitingValidation"
    assert "HTTP 302" in sub.state_detail


async def test_retry_after_is_honoured(harness: Harness) -> None:
    await harness.subscribe()
    harness.receiver.script = [429]
    harness.receiver.retry_after = "3600"
    await harness.emit(chat_event(1))
    await harness.drain()
    assert len(harness.receiver.events()) == 1  # not retried within the hour


def test_settings_defaults_are_sane() -> None:
    settings = EventSettings()
    assert settings.retry_base_s < settings.retry_max_s
    assert Envelope("cloudevents") is Envelope.CLOUD_EVENTS


async def test_chains_keep_each_subject_in_order_and_deliver_once(
    harness: Harness,
) -> None:
    await harness.subscribe()
    events = [chat_event(n, f"subject-{n % 3}") for n in range(60)]
    await harness.emit(*events[:30])
    await harness.dispatcher.run_once()  # part delivered while more arrive
    await harness.emit(*events[30:])

    async def all_arrived() -> bool:
        return len(harness.receiver.events()) >= 60

    await harness.until(all_arrived)
    arrived = [d.json()[0] for d in harness.receiver.events()]
    assert sorted(e["id"] for e in arrived) == sorted(e.id for e in events)
    for subject in ("subject-0", "subject-1", "subject-2"):
        got = [e["id"] for e in arrived if e["subject"] == subject]
        assert got == [e.id for e in events if e.subject == subject]


async def test_a_failure_in_a_chain_holds_back_only_its_subject(
    harness: Harness,
) -> None:
    await harness.subscribe()
    failing = [chat_event(n, "stuck") for n in range(3)]
    flowing = [chat_event(n, "free") for n in range(3)]

    def fail_stuck(item: Received) -> None:
        if item.json()[0]["subject"] == "stuck":
            harness.receiver.script.insert(0, 503)

    harness.receiver.on_event = fail_stuck
    await harness.emit(*failing, *flowing)
    await harness.drain()
    subjects = [d.json()[0]["subject"] for d in harness.receiver.events()]
    assert subjects.count("free") == 3
    # Only the first "stuck" event was tried; the two behind it wait untried.
    stuck = [
        d.json()[0]["id"]
        for d in harness.receiver.events()
        if "stuck" in d.body.decode()
    ]
    assert set(stuck) == {failing[0].id}


async def test_a_wake_up_that_cannot_be_sent_does_not_fail_the_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def bus_down() -> None:
        raise ConnectionError("the bus is down")

    await EventOutbox(bus_down).committed()

    assert "could not wake the event dispatchers" in caplog.text
