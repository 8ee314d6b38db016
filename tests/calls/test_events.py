"""Calling events reach an Event Grid webhook in the shapes ACS sends them."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from azure.eventgrid import EventGridEvent, SystemEventNames

from tests.calls.support import connected, new_user, next_event
from tests.conftest import RunningServer
from tests.events.receiver import Receiver, ThreadedReceiver
from tests.events.test_chat_events import subscribe, wait_for

ACS = "Microsoft.Communication."


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on its own loop."""
    threaded = ThreadedReceiver(Receiver())
    yield threaded.receiver
    threaded.stop()


async def test_a_call_reaches_the_webhook_as_acs_calling_events(
    node: RunningServer, receiver: Receiver
) -> None:
    subscribe(
        node,
        "calls",
        {"targetUrl": receiver.url, "eventTypes": [
            ACS + name for name in ("IncomingCall", "CallStarted", "CallEnded",
                                    "CallParticipantAdded", "CallParticipantRemoved")
        ]},
    )  # fmt: skip
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        started = await a.request(
            "call.start", {"targets": [bob.id], "displayName": "Alice"}
        )
        call_id = started["call"]["callId"]
        await next_event(b, "incomingCall", call_id)
        await b.request("call.accept", {"callId": call_id, "displayName": "Bob"})
        await a.request("call.end", {"callId": call_id})
        await next_event(b, "callEnded", call_id)

    events = wait_for(receiver, 7)
    counts = Counter(e["eventType"].removeprefix(ACS) for e in events)
    assert counts == {
        "CallStarted": 1,
        "IncomingCall": 1,
        "CallParticipantAdded": 2,
        "CallParticipantRemoved": 2,
        "CallEnded": 1,
    }
    known = {
        getattr(SystemEventNames, n).value
        for n in dir(SystemEventNames)
        if n.startswith("Acs")
    }
    assert {e["eventType"] for e in events} <= known
    parsed = {
        p.event_type.removeprefix(ACS): p for p in map(EventGridEvent.from_dict, events)
    }

    incoming = parsed["IncomingCall"]
    assert incoming.subject == f"/caller/{alice.id}/recipient/{bob.id}"
    assert incoming.data["to"]["rawId"] == bob.id
    assert incoming.data["from"] == {
        "kind": "communicationUser",
        "rawId": alice.id,
        "communicationUser": {"id": alice.id},
    }
    assert incoming.data["serverCallId"] == call_id
    assert incoming.data["callerDisplayName"] == "Alice"
    context = json.loads(base64.urlsafe_b64decode(incoming.data["incomingCallContext"]))
    assert context == {"callId": call_id, "to": bob.id}

    started_event = parsed["CallStarted"]
    assert started_event.subject == f"call/{call_id}/startedBy/{alice.id}"
    assert started_event.data["startedBy"] == {
        "rawId": alice.id,
        "communicationUser": {"id": alice.id},
        "role": "Presenter",
    }
    assert started_event.data["isTwoParty"] is True
    assert started_event.data["isRoomsCall"] is False
    assert started_event.data["correlationId"] == call_id

    added = [e for e in events if e["eventType"] == ACS + "CallParticipantAdded"]
    assert {e["subject"] for e in added} == {
        f"call/{call_id}/participant/{alice.id}",
        f"call/{call_id}/participant/{bob.id}",
    }
    names = {e["data"]["user"]["rawId"]: e["data"]["displayName"] for e in added}
    assert names == {alice.id: "Alice", bob.id: "Bob"}

    ended = parsed["CallEnded"]
    assert ended.subject == f"call/{call_id}"
    assert ended.data["durationOfCall"] >= 0
    assert ended.data["serverCallId"] == call_id
