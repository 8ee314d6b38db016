"""What the call methods refuse, who may call them, and what they leave unchanged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)
from azure.communication.rooms import ParticipantRole, RoomParticipant, RoomsClient

from switchboard.client import Event, RequestError
from tests.calls.conftest import NODE_ENV
from tests.calls.support import User, V, connected, new_user, next_event, rest
from tests.conftest import RunningServer, start_server
from tests.realtime.support import thread_with


async def collect(client: object, last: str) -> list[tuple[str, dict[str, object]]]:
    """Every event on the client up to and including the first `last`."""
    seen: list[tuple[str, dict[str, object]]] = []
    async for item in client.events():  # type: ignore[attr-defined]
        if isinstance(item, Event):
            seen.append((item.name, item.data))
            if item.name == last:
                break
    return seen


async def refused(client: object, method: str, params: dict[str, object]) -> tuple:
    """The (code, status, message) of an error answer."""
    with pytest.raises(RequestError) as error:
        await client.request(method, params)  # type: ignore[attr-defined]
    return error.value.code, error.value.status, error.value.message


async def test_bad_requests_get_the_exact_error_and_change_nothing(
    node: RunningServer,
) -> None:
    alice, bob = await new_user(node), await new_user(node)
    stranger = f"8:acs:{alice.id[6:42]}_{uuid.uuid4()}"
    async with connected(node, alice) as (a,), connected(node, bob) as (b,):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(b, "incomingCall", call_id)
        answers = [
            await refused(a, "call.dial", {}),
            await refused(a, "call.start", {}),
            await refused(a, "call.start", {"targets": [alice.id]}),
            await refused(a, "call.start", {"targets": [stranger]}),
            await refused(a, "call.start", {"targets": ["4:+15550100"]}),
            await refused(a, "call.start", {"targets": [bob.id], "video": "yes"}),
            await refused(a, "call.join", {"groupId": "not-a-uuid"}),
            await refused(
                a, "call.join", {"groupId": str(uuid.uuid4()), "callId": "x"}
            ),
            await refused(a, "call.accept", {"callId": "no-such-call"}),
            await refused(a, "call.accept", {"callId": call_id}),
            await refused(b, "call.leave", {"callId": call_id}),
            await refused(b, "call.update", {"callId": call_id}),
            await refused(a, "media.answer", {"handleId": "h1", "sdp": "v=0"}),
            await refused(a, "media.trickle", {"handleId": "h1"}),
        ]
        after = await rest(node, alice.token, f"/switchboard/v1/calls/{call_id}?{V}")
        await a.request("call.cancel", {"callId": call_id})

    assert answers == [
        ("BadRequest", 400, "realtime request: unknown method 'call.dial'"),
        ("BadRequest", 400, "targets must be a non-empty list of user ids"),
        ("BadRequest", 400, "targets must name someone other than the caller"),
        ("NotFound", 404, f"the user {stranger} does not exist"),
        ("BadRequest", 400, "'4:+15550100' is not a user of this resource"),
        ("BadRequest", 400, "video must be true or false"),
        ("BadRequest", 400, "groupId must be a UUID"),
        (
            "BadRequest",
            400,
            "call.join takes exactly one of callId, groupId and roomId",
        ),
        ("NotFound", 404, "there is no call no-such-call"),
        (
            "Conflict",
            409,
            f"cannot accept: the call {call_id} is not ringing for you "
            "(you are connected)",
        ),
        ("Conflict", 409, f"you are not connected to the call {call_id}"),
        (
            "BadRequest",
            400,
            "call.update needs at least one of muted, video and screenSharing",
        ),
        ("NotFound", 404, "there is no handle h1 on this connection"),
        (
            "BadRequest",
            400,
            "candidate is required (null when gathering is complete)",
        ),
    ]
    assert after.status_code == 200
    call = after.json()
    assert call["state"] == "ringing"
    assert [(p["id"], p["state"]) for p in call["participants"]] == [
        (alice.id, "connected"),
        (bob.id, "ringing"),
    ]


async def test_a_chat_token_may_not_use_call_methods(node: RunningServer) -> None:
    alice = await new_user(node)
    chatty = await new_user(node, ("chat",))
    async with connected(node, chatty) as (c,):
        answers = [
            await refused(c, "call.start", {"targets": [alice.id]}),
            await refused(c, "call.join", {"groupId": str(uuid.uuid4())}),
            await refused(c, "media.hangup", {"handleId": "h"}),
        ]
    history = await rest(node, alice.token, f"/switchboard/v1/calls?{V}")

    message = "needs a token with the voip or voip.join scope"
    assert answers == [
        ("Forbidden", 403, f"call.start {message}"),
        ("Forbidden", 403, f"call.join {message}"),
        ("Forbidden", 403, f"media.hangup {message}"),
    ]
    assert history.json()["value"] == []


async def test_a_connection_sees_only_the_events_its_scopes_cover(
    node: RunningServer,
) -> None:
    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    alice = await new_user(node)
    bob = await new_user(node, ("chat", "voip"))
    who = CommunicationUserIdentifier(bob.id)
    chat_only = User(bob.id, identity.get_token(who, ["chat"]).token)
    voip_only = User(bob.id, identity.get_token(who, ["voip"]).token)
    async with (
        connected(node, alice) as (a,),
        connected(node, chat_only) as (bc,),
        connected(node, voip_only) as (bv,),
    ):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        await next_event(bv, "incomingCall", call_id)
        await a.request("call.cancel", {"callId": call_id})
        await next_event(bv, "callEnded", call_id)
        thread = await thread_with(node, bob.token, [alice.id])
        chat_seen = await collect(bc, "chatThreadCreated")
        voip_last = bv.last_seq

    # The chat connection's first event is the chat one: the call's were skipped.
    assert [name for name, _ in chat_seen] == ["chatThreadCreated"]
    assert chat_seen[0][1]["threadId"] == thread
    assert voip_last is not None and bc.last_seq is not None
    assert bc.last_seq > voip_last


@pytest.fixture(scope="module")
def quick_ring(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A node whose calls ring for a fraction of a second."""
    server = start_server(
        Path(tmp_path_factory.mktemp("calls-ring")),
        env={**NODE_ENV, "SWITCHBOARD_CALLS_RING_TIMEOUT_S": "0.3"},
    )
    yield server
    server.stop()


async def test_an_unanswered_call_ends_with_no_answer(
    quick_ring: RunningServer,
) -> None:
    alice, bob = await new_user(quick_ring), await new_user(quick_ring)
    async with connected(quick_ring, alice) as (a,), connected(quick_ring, bob) as (b,):
        call_id = (await a.request("call.start", {"targets": [bob.id]}))["call"][
            "callId"
        ]
        invite = await next_event(b, "callInviteEnded", call_id)
        ended = await next_event(a, "callEnded", call_id)
        history = await rest(
            quick_ring, bob.token, f"/switchboard/v1/calls/{call_id}?{V}"
        )

    assert invite["reason"] == "noAnswer"
    assert ended["reason"] == "noAnswer"
    call = history.json()
    assert call["state"] == "ended" and call["endReason"] == "noAnswer"
    assert call["participants"][1]["state"] == "left"


async def test_the_history_lists_a_users_calls_newest_first(
    node: RunningServer,
) -> None:
    alice, bob, carol = [await new_user(node) for _ in range(3)]
    async with connected(node, alice) as (a,):
        ids = []
        for target in (bob, carol, bob):
            started = await a.request("call.start", {"targets": [target.id]})
            ids.append(started["call"]["callId"])
            await a.request("call.cancel", {"callId": ids[-1]})
    page = await rest(node, alice.token, f"/switchboard/v1/calls?{V}&maxPageSize=2")
    body = page.json()
    rest_path = body["nextLink"].split(str(node.https_port), 1)[1]
    second = (await rest(node, alice.token, rest_path)).json()
    carols = (await rest(node, carol.token, f"/switchboard/v1/calls?{V}")).json()
    other = await rest(node, carol.token, f"/switchboard/v1/calls/{ids[0]}?{V}")
    chat_token = (await new_user(node, ("chat",))).token
    no_voip = await rest(node, chat_token, f"/switchboard/v1/calls?{V}")

    assert page.status_code == 200
    assert [c["callId"] for c in body["value"]] == [ids[2], ids[1]]
    assert [c["callId"] for c in second["value"]] == [ids[0]]
    assert "nextLink" not in second
    assert [c["callId"] for c in carols["value"]] == [ids[1]]
    assert body["value"][0]["endReason"] == "canceled"
    assert "iceServers" not in body["value"][0]
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NotFound"
    assert no_voip.status_code == 403
    assert no_voip.json()["error"]["code"] == "Forbidden"


async def test_a_room_call_follows_the_room_roles(node: RunningServer) -> None:
    host, viewer, outsider = [await new_user(node) for _ in range(3)]
    rooms = RoomsClient.from_connection_string(node.connection_string)
    room = rooms.create_room(
        participants=[
            RoomParticipant(
                communication_identifier=CommunicationUserIdentifier(host.id),
                role=ParticipantRole.PRESENTER,
            ),
            RoomParticipant(
                communication_identifier=CommunicationUserIdentifier(viewer.id),
                role=ParticipantRole.CONSUMER,
            ),
        ]
    )
    async with (
        connected(node, host) as (h,),
        connected(node, viewer) as (v,),
        connected(node, outsider) as (o,),
    ):
        call = (await h.request("call.join", {"roomId": room.id}))["call"]
        seen = (await v.request("call.join", {"roomId": room.id}))["call"]
        answers = [
            await refused(o, "call.join", {"roomId": room.id}),
            await refused(o, "call.join", {"roomId": "no-such-room"}),
            await refused(v, "call.update", {"callId": call["callId"], "video": True}),
            await refused(v, "call.end", {"callId": call["callId"]}),
            await refused(v, "media.publish", {"callId": call["callId"], "sdp": "v=0"}),
        ]
        await h.request("call.end", {"callId": call["callId"]})
        ended = await next_event(v, "callEnded", call["callId"])

    assert call["kind"] == "room" and call["roomId"] == room.id
    assert seen["callId"] == call["callId"]
    roles = {p["id"]: (p["role"], p["muted"], p["video"]) for p in seen["participants"]}
    assert roles[host.id][0] == "Presenter"
    assert roles[viewer.id] == ("Consumer", True, False)
    assert [a[:2] for a in answers] == [
        ("Forbidden", 403),
        ("NotFound", 404),
        ("Forbidden", 403),
        ("Forbidden", 403),
        ("Forbidden", 403),
    ]
    assert answers[2][2] == "a participant in the Consumer role may not publish"
    assert answers[3][2] == "a participant in the Consumer role may not end the call"
    assert answers[4][2] == "a participant in the Consumer role may not publish"
    assert ended["reason"] == "completed"
