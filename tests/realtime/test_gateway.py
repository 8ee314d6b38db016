"""The gateway's handshake, close codes, heartbeat and revocation on a real node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.realtime.support import (
    authenticate,
    delete,
    frames_until_close,
    new_user,
    raw_socket,
    revoke,
)

HEARTBEAT_S = 0.5


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A node with short heartbeat and auth timeouts."""
    node = start_server(
        Path(tmp_path_factory.mktemp("realtime-tuned")),
        env={
            "SWITCHBOARD_REALTIME_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
            "SWITCHBOARD_REALTIME_AUTH_TIMEOUT_S": "0.5",
        },
    )
    yield node
    node.stop()


async def closed_with(server: RunningServer, *frames: str) -> tuple[int, str, list]:
    ws = await raw_socket(server)
    for frame in frames:
        await ws.send(frame)
    received = await frames_until_close(ws)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or "", received


async def test_ready_describes_the_connection(tuned: RunningServer) -> None:
    user, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    ready = await authenticate(ws, token)
    await ws.close()

    assert ready["type"] == "ready"
    assert ready["protocol"] == 1
    assert ready["userId"] == user
    assert ready["stream"].startswith("m-")
    assert ready["connectionId"].startswith("rt-")
    assert ready["seq"] == 0
    assert ready["resumed"] is False
    assert ready["replayed"] == 0
    assert ready["heartbeatIntervalS"] == HEARTBEAT_S
    assert ready["expiresOn"].endswith("Z")


async def test_a_malformed_token_closes_with_4001(tuned: RunningServer) -> None:
    code, reason, received = await closed_with(
        tuned, json.dumps({"type": "auth", "token": "not-a-jwt"})
    )
    assert code == 4001
    assert reason == "the access token is malformed"
    assert received == [
        {"type": "error", "code": 4001, "message": "the access token is malformed"}
    ]


async def test_a_token_of_another_resource_closes_with_4001(
    tuned: RunningServer, server: RunningServer
) -> None:
    _, foreign = await new_user(server)
    code, reason, _ = await closed_with(
        tuned, json.dumps({"type": "auth", "token": foreign})
    )
    assert code == 4001
    assert reason == "the access token was not signed by this resource"


async def test_a_token_with_only_a_voip_scope_is_accepted(
    tuned: RunningServer,
) -> None:
    user, token = await new_user(tuned, ("voip",))
    ws = await raw_socket(tuned)
    ready = await authenticate(ws, token)
    await ws.close()

    assert ready["type"] == "ready"
    assert ready["userId"] == user


async def test_no_auth_frame_closes_with_4003(tuned: RunningServer) -> None:
    code, reason, _ = await closed_with(tuned)
    assert (code, reason) == (4003, "no auth frame arrived in time")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"type": "ping"}', "the first frame must be an auth frame"),
        ("hello", "realtime frame: not JSON"),
        ("[1]", "realtime frame: not a JSON object"),
        ('{"type": "subscribe"}', "realtime frame: unknown type 'subscribe'"),
        ('{"type": "auth"}', "realtime auth frame: token must be a non-empty string"),
        (
            '{"type": "auth", "token": "x", "resumeFrom": -1}',
            "realtime auth frame: resumeFrom must be a non-negative integer",
        ),
    ],
)
async def test_protocol_errors_close_with_4000(
    tuned: RunningServer, frame: str, reason: str
) -> None:
    code, got, received = await closed_with(tuned, frame)
    assert (code, got) == (4000, reason)
    assert received == [{"type": "error", "code": 4000, "message": reason}]


async def test_a_second_auth_closes_with_4000(tuned: RunningServer) -> None:
    _, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    await frames_until_close(ws)
    assert ws.close_code == 4000
    assert ws.close_reason == "auth was already sent on this connection"


async def test_an_oversized_frame_closes_with_1009(tuned: RunningServer) -> None:
    _, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)
    await ws.send(json.dumps({"type": "ping", "nonce": "x" * 70_000}))
    await frames_until_close(ws)
    assert ws.close_code == 1009
    assert ws.close_reason == "frames may be at most 65536 bytes"


async def test_a_client_ping_is_answered(tuned: RunningServer) -> None:
    _, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)
    await ws.send(json.dumps({"type": "ping", "nonce": "n-1"}))
    answer = json.loads(await ws.recv())
    await ws.close()
    assert answer == {"type": "pong", "nonce": "n-1"}


async def test_a_client_that_answers_pings_stays_connected(
    tuned: RunningServer,
) -> None:
    _, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)
    pings = 0
    while pings < 4:
        frame = json.loads(await ws.recv())
        assert frame["type"] == "ping"
        await ws.send('{"type": "pong"}')
        pings += 1
    await ws.send(json.dumps({"type": "ping", "nonce": "still-here"}))
    frame = json.loads(await ws.recv())
    while frame["type"] == "ping":
        frame = json.loads(await ws.recv())
    await ws.close()
    assert frame == {"type": "pong", "nonce": "still-here"}


async def test_a_client_that_never_answers_closes_with_4006(
    tuned: RunningServer,
) -> None:
    _, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)
    received = await frames_until_close(ws)
    assert ws.close_code == 4006
    assert ws.close_reason.startswith("no frame from the client for")
    assert received[0]["type"] == "ping"
    assert received[-1]["code"] == 4006


async def test_revoking_the_tokens_closes_the_socket_with_4005(
    tuned: RunningServer,
) -> None:
    user, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)

    await revoke(tuned, user)
    received = await asyncio.wait_for(frames_until_close(ws), 10)

    assert ws.close_code == 4005
    assert ws.close_reason == "the access token has been revoked"
    assert received[-1] == {
        "type": "error",
        "code": 4005,
        "message": "the access token has been revoked",
    }


async def test_deleting_the_user_closes_the_socket_with_4005(
    tuned: RunningServer,
) -> None:
    user, token = await new_user(tuned)
    ws = await raw_socket(tuned)
    await authenticate(ws, token)

    await delete(tuned, user)
    await asyncio.wait_for(frames_until_close(ws), 10)

    assert ws.close_code == 4005
    assert ws.close_reason == "the user of this access token no longer exists"


async def test_a_revoked_token_cannot_connect(tuned: RunningServer) -> None:
    user, token = await new_user(tuned)
    await revoke(tuned, user)
    code, reason, _ = await closed_with(
        tuned, json.dumps({"type": "auth", "token": token})
    )
    assert (code, reason) == (4001, "the access token has been revoked")


async def test_the_gateway_answers_over_tls(tuned: RunningServer) -> None:
    from switchboard.client import RealtimeClient

    user, token = await new_user(tuned)
    async with RealtimeClient(tuned.endpoint, token) as client:
        assert client.url.startswith("wss://localhost:")
        assert client.ready is not None
        assert client.ready.user_id == user
