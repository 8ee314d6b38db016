"""The HTTP surface every API shares: malformed input, limits, health, metrics, logs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys

import asyncpg
import httpx
import pytest

from tests.conftest import RunningServer, signed

CREATE = "/identities?api-version=2023-10-01"


def user_count(server: RunningServer) -> int:
    """How many users the server's database holds, read behind its back."""
    if "--database" in server.args:
        url = server.args[server.args.index("--database") + 1]

        async def count() -> int:
            conn = await asyncpg.connect(url)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM users"))
            finally:
                await conn.close()

        return asyncio.run(count())
    with sqlite3.connect(server.data_dir / "switchboard.db") as conn:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def keys_show(server: RunningServer) -> dict[str, str]:
    """Both access keys, as `switchboard keys show` prints them."""
    argv = [sys.executable, "-m", "switchboard", "keys", "show"]
    argv += ["--data-dir", str(server.data_dir)]
    if "--database" in server.args:
        argv += ["--database", server.args[server.args.index("--database") + 1]]
    result = subprocess.run(argv, check=True, capture_output=True)
    keys: dict[str, str] = json.loads(result.stdout)
    return keys


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (b"{not json", 400, "InvalidRequestBody", "the body is not valid JSON"),
        (b"[1, 2]", 400, "InvalidRequestBody", "the request body is invalid"),
        (
            b'{"createTokenWithScopes": "chat"}',
            400,
            "InvalidRequestBody",
            "the request body is invalid at createTokenWithScopes",
        ),
        (
            b'{"createTokenWithScopes": ["chat"], "expiresInMinutes": "60"}',
            400,
            "InvalidRequestBody",
            "the request body is invalid at expiresInMinutes",
        ),
        (
            b'{"createTokenWithScopes": ["chat"], "expiresInMinutes": 60.5}',
            400,
            "InvalidRequestBody",
            "the request body is invalid at expiresInMinutes",
        ),
        (
            b'{"createTokenWithScopes": []}',
            400,
            "InvalidRequestBody",
            "createTokenWithScopes: at least one scope is required",
        ),
        (
            b'{"expiresInMinutes": 90}',
            400,
            "InvalidRequestBody",
            "expiresInMinutes needs createTokenWithScopes",
        ),
        (b"\xff\xfe", 400, "InvalidRequestBody", "the body is not valid JSON"),
    ],
)
def test_malformed_bodies_change_nothing(
    server: RunningServer, body: bytes, status: int, code: str, message: str
) -> None:
    before = user_count(server)
    response = signed(server, "POST", CREATE, body)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    assert error["message"].startswith(message)
    assert user_count(server) == before


def test_an_oversized_body_is_413_and_changes_nothing(server: RunningServer) -> None:
    before = user_count(server)
    body = json.dumps({"createTokenWithScopes": ["chat"] * 200_000}).encode()
    response = signed(server, "POST", CREATE, body)
    assert response.status_code == 413
    assert error_of(response) == {
        "code": "RequestEntityTooLarge",
        "message": "the request body is larger than 1048576 bytes",
    }
    assert user_count(server) == before


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("", "MissingApiVersionParameter", "the api-version query parameter is"),
        (
            "?api-version=2099-01-01",
            "InvalidApiVersion",
            "api-version '2099-01-01' is not supported",
        ),
    ],
)
def test_api_version_is_required_and_known(
    server: RunningServer, query: str, code: str, message: str
) -> None:
    before = user_count(server)
    response = signed(server, "POST", "/identities" + query)
    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert error_of(response)["message"].startswith(message)
    assert user_count(server) == before


def test_every_listed_api_version_is_served(server: RunningServer) -> None:
    for version in ("2021-03-07", "2022-06-01", "2022-10-01", "2023-10-01"):
        response = signed(server, "POST", f"/identities?api-version={version}")
        assert response.status_code == 201, response.text


def test_unsigned_and_bearer_requests_are_401(server: RunningServer) -> None:
    plain = httpx.post(f"{server.endpoint}{CREATE}")
    assert plain.status_code == 401
    assert error_of(plain)["message"] == (
        "HMAC authentication failed: the request has no Authorization header"
    )
    bearer = httpx.post(
        f"{server.endpoint}{CREATE}", headers={"Authorization": "Bearer x.y.z"}
    )
    assert bearer.status_code == 401
    assert "Entra ID bearer tokens are not supported" in error_of(bearer)["message"]
    assert "www-authenticate" not in bearer.headers


def test_unknown_routes_answer_in_the_acs_shape(server: RunningServer) -> None:
    response = signed(server, "GET", "/nowhere?api-version=2023-10-01")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NotFound"


def test_the_client_request_id_is_echoed(server: RunningServer) -> None:
    response = signed(
        server, "POST", CREATE, headers={"x-ms-client-request-id": "abc-123"}
    )
    assert response.headers["x-ms-client-request-id"] == "abc-123"


def test_health_readiness_and_metrics(server: RunningServer) -> None:
    assert httpx.get(f"{server.http_endpoint}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.endpoint}/readyz").json() == {"status": "ready"}
    signed(server, "POST", CREATE)
    metrics = httpx.get(f"{server.http_endpoint}/metrics").text
    assert 'switchboard_http_requests_total{method="POST",route="/identities"' in (
        metrics
    )


def test_the_key_set_is_published(server: RunningServer) -> None:
    keys = httpx.get(f"{server.http_endpoint}/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "EC" and k["alg"] == "ES256" for k in keys)
    assert all("d" not in k for k in keys)


def test_logs_hold_no_secrets(server: RunningServer) -> None:
    created = signed(
        server, "POST", CREATE, b'{"createTokenWithScopes": ["chat"]}'
    ).json()
    token = created["accessToken"]["token"]
    httpx.get(
        f"{server.endpoint}/switchboard/v1/me",
        headers={"Authorization": f"Bearer {token}"},
    )
    signed(server, "POST", CREATE, key="QUJD" * 11)
    log = server.log()
    assert created["identity"]["id"] in log
    for secret in (token, token.split(".")[1], token.split(".")[2], server.access_key):
        assert secret not in log
    secondary = keys_show(server)["secondary"]
    assert secondary not in log
    assert "Signature=" not in log
