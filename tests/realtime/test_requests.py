"""Request and response frames: ids, order, errors, and what closes the connection."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningServer
from tests.realtime.support import (
    authenticate,
    frames_until_close,
    new_user,
    raw_socket,
)


async def answers(server: RunningServer, scopes: tuple[str, ...], *frames: str) -> list:
    """The response frames to `frames`, sent at once on a fresh connection."""
    _, token = await new_user(server, scopes)
    ws = await raw_socket(server)
    await authenticate(ws, token)
    for frame in frames:
        await ws.send(frame)
    received = []
    while len(received) < len(frames):
        frame = json.loads(await ws.recv())
        if frame["type"] == "response":
            received.append(frame)
    await ws.close()
    return received


async def test_requests_are_answered_in_order_with_their_ids(
    server: RunningServer,
) -> None:
    frames = [
        json.dumps({"type": "request", "id": f"r{i}", "method": "call.nothing"})
        for i in range(5)
    ]
    received = await answers(server, ("voip",), *frames)
    assert [r["id"] for r in received] == ["r0", "r1", "r2", "r3", "r4"]
    assert received[0] == {
        "type": "response",
        "id": "r0",
        "error": {
            "code": "BadRequest",
            "message": "realtime request: unknown method 'call.nothing'",
            "status": 400,
        },
    }


async def test_a_malformed_request_is_answered_not_closed(
    server: RunningServer,
) -> None:
    received = await answers(
        server,
        ("voip",),
        json.dumps({"type": "request", "id": "a", "method": 7}),
        json.dumps(
            {"type": "request", "id": "b", "method": "call.leave", "params": [1]}
        ),
        json.dumps(
            {
                "type": "request",
                "id": "c",
                "method": "call.leave",
                "params": {"callId": "x"},
            }
        ),
    )
    assert [(r["id"], r["error"]["message"]) for r in received] == [
        ("a", "realtime request: method must be a non-empty string"),
        ("b", "realtime request: params must be a JSON object"),
        ("c", "there is no call x"),
    ]
    assert received[2]["error"]["code"] == "NotFound"


async def test_a_chat_token_gets_forbidden_for_a_voip_method(
    server: RunningServer,
) -> None:
    received = await answers(
        server,
        ("chat",),
        json.dumps(
            {
                "type": "request",
                "id": "1",
                "method": "call.start",
                "params": {"targets": []},
            }
        ),
    )
    assert received[0]["error"] == {
        "code": "Forbidden",
        "message": "call.start needs a token with the voip or voip.join scope",
        "status": 403,
    }


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (
            {"type": "request", "method": "call.leave"},
            "realtime request frame: id must be a string of 1 to 64 characters",
        ),
        (
            {"type": "request", "id": "x" * 65, "method": "call.leave"},
            "realtime request frame: id must be a string of 1 to 64 characters",
        ),
    ],
)
async def test_a_request_without_a_usable_id_closes_with_4000(
    server: RunningServer, frame: dict[str, object], reason: str
) -> None:
    _, token = await new_user(server, ("voip",))
    ws = await raw_socket(server)
    await authenticate(ws, token)
    await ws.send(json.dumps(frame))
    received = await frames_until_close(ws)
    assert (ws.close_code, ws.close_reason) == (4000, reason)
    assert received[-1] == {"type": "error", "code": 4000, "message": reason}


async def test_a_resume_passes_over_events_the_token_does_not_cover(
    server: RunningServer,
) -> None:
    from azure.communication.identity import (
        CommunicationIdentityClient,
        CommunicationUserIdentifier,
    )

    from tests.realtime.support import thread_with

    identity = CommunicationIdentityClient.from_connection_string(
        server.connection_string
    )
    alice, alice_voip = await new_user(server, ("voip",))
    bob, both = await new_user(server, ("chat", "voip"))
    chat_only = identity.get_token(CommunicationUserIdentifier(bob), ["chat"]).token

    # Bob's chat-only connection records where his stream stands, then goes.
    ws = await raw_socket(server)
    start = (await authenticate(ws, chat_only))["seq"]
    await ws.close()

    # Meanwhile: a call event, then a chat event.
    caller = await raw_socket(server)
    await authenticate(caller, alice_voip)
    await caller.send(
        json.dumps({"type": "request", "id": "s", "method": "call.start",
                    "params": {"targets": [bob]}})
    )  # fmt: skip
    while json.loads(await caller.recv())["type"] != "response":
        pass
    await caller.close()
    thread = await thread_with(server, both, [])

    ws = await raw_socket(server)
    ready = await authenticate(ws, chat_only, resume_from=start, stream=None)
    first = json.loads(await ws.recv())
    await ws.close()

    assert ready["resumed"] is True
    assert ready["replayed"] == 1
    assert first["type"] == "event"
    assert first["event"] == "chatThreadCreated"
    assert first["data"]["threadId"] == thread
    assert first["seq"] == start + 2
    del alice
