"""The call state machine over real WebSockets, driven by the Python client."""

from __future__ import annotations

import uuid

import pytest

from switchboard.client import RequestError
from tests.calls.support import (
    connected,
    events_until,
    new_user,
    next_event,
)
from tests.conftest import RunningServer


async def test_a_call_rings_every_connection_of_the_callee(node: RunningServer) -> None:
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob, 2) as (b1, b2):
        started = await a.request(
            "call.start",
            {"targets": [bob.id], "subject": "Lunch", "video": True,
             "displayName": "Alice"},
        )  # fmt: skip
        call = started["call"]
        rings = [await next_event(b, "incomingCall", call["callId"]) for b in (b1, b2)]

    assert call["kind"] == "direct"
    assert call["state"] == "ringing"
    assert call["createdBy"] == alice.id
    assert call["subject"] == "Lunch"
    assert call["groupId"] is None and call["roomId"] is None
    assert [(p["id"], p["state"], p["role"]) for p in call["participants"]] == [
        (alice.id, "connected", "Presenter"),
        (bob.id, "ringing", "Presenter"),
    ]
    assert call["streams"] == []
    assert isinstance(call["iceServers"], list)
    for ring in rings:
        assert ring["callId"] == call["callId"]
        assert ring["caller"]["id"] == alice.id
        assert ring["caller"]["displayName"] == "Alice"
        assert ring["subject"] == "Lunch"
        assert ring["video"] is True
        assert ring["kind"] == "direct"
        assert [p["id"] for p in ring["participants"]] == [alice.id, bob.id]


async def test_accepting_stops_the_ringing_elsewhere(node: RunningServer) -> None:
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob, 2) as (b1, b2):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b1, "incomingCall", call_id)
        accepted = await b1.request(
            "call.accept", {"callId": call_id, "displayName": "Bob"}
        )
        elsewhere = await next_event(b2, "callInviteEnded", call_id)
        seen = await events_until(a, "callParticipantJoined", call_id)

    assert accepted["call"]["state"] == "connected"
    assert accepted["call"]["answeredAt"] is not None
    bob_now = [p for p in accepted["call"]["participants"] if p["id"] == bob.id]
    assert bob_now[0]["state"] == "connected"
    assert bob_now[0]["displayName"] == "Bob"
    assert elsewhere["reason"] == "answeredElsewhere"
    assert b1.ready is not None
    assert elsewhere["connectionId"] == b1.ready.connection_id
    assert [name for name, _ in seen] == ["callStateChanged", "callParticipantJoined"]
    assert seen[0][1]["state"] == "connected"
    assert seen[1][1]["participant"]["id"] == bob.id


async def test_declining_ends_a_one_to_one_call(node: RunningServer) -> None:
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob, 2) as (b1, b2):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b1, "incomingCall", call_id)
        assert await b1.request("call.decline", {"callId": call_id}) == {}
        elsewhere = await next_event(b2, "callInviteEnded", call_id)
        seen = await events_until(a, "callEnded", call_id)

    assert elsewhere["reason"] == "declinedElsewhere"
    names = [name for name, _ in seen]
    assert names == ["callParticipantLeft", "callStateChanged", "callEnded"]
    assert seen[0][1]["reason"] == "declined"
    assert seen[1][1] == {
        **seen[1][1],
        "state": "ended",
        "reason": "declined",
    }
    assert seen[2][1]["reason"] == "declined"
    assert seen[2][1]["durationS"] == 0


async def test_the_caller_cancels_a_ringing_call(node: RunningServer) -> None:
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b, "incomingCall", call_id)
        with pytest.raises(RequestError) as refused:
            await b.request("call.cancel", {"callId": call_id})
        assert await a.request("call.cancel", {"callId": call_id}) == {}
        seen = await events_until(b, "callEnded", call_id)

    assert (refused.value.code, refused.value.status) == ("Forbidden", 403)
    assert refused.value.message == "only the caller may cancel a call"
    assert [name for name, _ in seen] == [
        "callInviteEnded",
        "callStateChanged",
        "callEnded",
    ]
    assert seen[0][1]["reason"] == "canceled"
    assert seen[2][1]["reason"] == "canceled"


async def test_leaving_a_one_to_one_call_ends_it(node: RunningServer) -> None:
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b, "incomingCall", call_id)
        await b.request("call.accept", {"callId": call_id})
        await next_event(a, "callParticipantJoined", call_id)
        assert await b.request("call.leave", {"callId": call_id}) == {}
        seen = await events_until(a, "callEnded", call_id)

    left = [data for name, data in seen if name == "callParticipantLeft"]
    assert left[0]["participant"]["id"] == bob.id
    assert left[0]["participant"]["state"] == "left"
    assert left[0]["reason"] == "left"
    assert seen[-1][1]["reason"] == "completed"
    assert seen[-1][1]["durationS"] >= 0


async def test_end_hangs_up_for_everyone(node: RunningServer) -> None:
    alice, bob, carol = [await new_user(node) for _ in range(3)]
    async with (
        connected(node, alice) as (a,),
        connected(node, bob) as (b,),
        connected(node, carol) as (c,),
    ):
        started = await a.request("call.start", {"targets": [bob.id, carol.id]})
        call_id = started["call"]["callId"]
        for client in (b, c):
            await next_event(client, "incomingCall", call_id)
            await client.request("call.accept", {"callId": call_id})
        await b.request("call.leave", {"callId": call_id})
        assert await c.request("call.end", {"callId": call_id}) == {}
        ended = await next_event(a, "callEnded", call_id)
        with pytest.raises(RequestError) as late:
            await a.request("call.leave", {"callId": call_id})

    assert ended["reason"] == "completed"
    assert (late.value.code, late.value.status) == ("Conflict", 409)
    assert late.value.message == f"the call {call_id} has ended"


async def test_a_group_call_is_joined_by_its_group_id(node: RunningServer) -> None:
    group = str(uuid.uuid4())
    alice, bob, carol = [await new_user(node) for _ in range(3)]
    async with (
        connected(node, alice) as (a,),
        connected(node, bob) as (b,),
        connected(node, carol) as (c,),
    ):
        first = (await a.request("call.join", {"groupId": group}))["call"]
        second = (await b.request("call.join", {"groupId": group}))["call"]
        joined = await next_event(a, "callParticipantJoined", first["callId"])
        if joined["participant"]["id"] == alice.id:  # her own join comes first
            joined = await next_event(a, "callParticipantJoined", first["callId"])
        third = (await c.request("call.join", {"groupId": group}))["call"]
        await a.request("call.leave", {"callId": first["callId"]})
        left = await next_event(c, "callParticipantLeft", first["callId"])
        await b.request("call.leave", {"callId": first["callId"]})
        await c.request("call.leave", {"callId": first["callId"]})
        ended = await next_event(c, "callEnded", first["callId"])
        again = (await a.request("call.join", {"groupId": group}))["call"]
        await a.request("call.leave", {"callId": again["callId"]})

    assert first["kind"] == "group" and first["groupId"] == group
    assert first["state"] == "connected"
    assert second["callId"] == third["callId"] == first["callId"]
    assert [p["id"] for p in third["participants"]] == [alice.id, bob.id, carol.id]
    assert joined["participant"]["id"] == bob.id
    assert left["participant"]["id"] == alice.id
    assert ended["reason"] == "completed"
    assert again["callId"] != first["callId"]


async def test_mute_and_video_state_reach_the_others(node: RunningServer) -> None:
    group = str(uuid.uuid4())
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        call_id = (await a.request("call.join", {"groupId": group}))["call"]["callId"]
        await b.request("call.join", {"groupId": group})
        result = await b.request(
            "call.update", {"callId": call_id, "muted": True, "video": True}
        )
        seen = await next_event(a, "callParticipantUpdated", call_id)
        await a.request("call.end", {"callId": call_id})

    assert result["participant"]["muted"] is True
    assert result["participant"]["video"] is True
    assert seen["participant"] == result["participant"]


async def test_a_lost_connection_leaves_after_the_grace(node: RunningServer) -> None:
    group = str(uuid.uuid4())
    alice, bob = await new_user(node), await new_user(node)
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        call_id = (await a.request("call.join", {"groupId": group}))["call"]["callId"]
        await b.request("call.join", {"groupId": group})
        await b.drop()
        left = await next_event(a, "callParticipantLeft", call_id)
        await a.request("call.end", {"callId": call_id})

    assert left["participant"]["id"] == bob.id
    assert left["reason"] == "connectionLost"
