"""The trusted service example, in process, against a real `switchboard serve`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from examples.trusted_service.service import create_app

from tests.conftest import RunningServer

pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)

ALICE = {"username": "alice", "password": "wonderland"}
BOB = {"username": "bob", "password": "the-builder"}


@pytest.fixture
async def app_client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(server.connection_string)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service.test"
        ) as client,
    ):
        yield client


async def sign_in(client: httpx.AsyncClient, user: dict[str, str]) -> dict[str, str]:
    answer = await client.post("/signin", json=user)
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def fetch_token(client: httpx.AsyncClient, session: str) -> dict[str, str]:
    answer = await client.post(
        "/switchboard-token", headers={"Authorization": f"Bearer {session}"}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def whoami(server: RunningServer, token: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(
            f"{server.endpoint}/switchboard/v1/me",
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-session"}, {"Authorization": "Basic YTpi"}],
)
async def test_callers_without_a_session_are_refused(
    app_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await app_client.post("/switchboard-token", headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"detail": "sign in first"}
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "the-builder"},
        {"username": "mallory", "password": "wonderland"},
    ],
)
async def test_wrong_credentials_are_refused(
    app_client: httpx.AsyncClient, credentials: dict[str, str]
) -> None:
    answer = await app_client.post("/signin", json=credentials)

    assert answer.status_code == 401
    assert answer.json() == {"detail": "wrong user name or password"}


async def test_signed_in_user_gets_a_working_switchboard_token(
    app_client: httpx.AsyncClient, server: RunningServer
) -> None:
    signed = await sign_in(app_client, ALICE)

    issued = await fetch_token(app_client, signed["session"])

    assert issued["userId"] == signed["switchboardUserId"]
    assert issued["userId"].startswith("8:acs:")
    me = await whoami(server, issued["token"])
    assert me.status_code == 200
    assert me.json()["id"] == issued["userId"]
    assert me.json()["scopes"] == ["chat", "voip"]
    # Scenario 1: the access key stays with the service.
    assert server.access_key not in str(signed) + str(issued)


async def test_an_app_user_always_maps_to_the_same_switchboard_user(
    app_client: httpx.AsyncClient,
) -> None:
    first, second = await asyncio.gather(
        sign_in(app_client, BOB), sign_in(app_client, BOB)
    )
    third = await sign_in(app_client, BOB)
    alice = await sign_in(app_client, ALICE)

    assert first["session"] != second["session"]
    ids = {first["switchboardUserId"], second["switchboardUserId"]}
    assert ids == {third["switchboardUserId"]}
    assert (await fetch_token(app_client, second["session"]))["userId"] in ids
    assert alice["switchboardUserId"] not in ids


async def test_signing_out_ends_the_session(app_client: httpx.AsyncClient) -> None:
    session = (await sign_in(app_client, ALICE))["session"]
    auth = {"Authorization": f"Bearer {session}"}

    assert (await app_client.post("/signout", headers=auth)).status_code == 204

    refused = await app_client.post("/switchboard-token", headers=auth)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "sign in first"}
