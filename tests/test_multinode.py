"""Several nodes on one PostgreSQL database and one Redis."""

from __future__ import annotations

import time

import httpx
from azure.communication.identity import CommunicationIdentityClient

from tests.conftest import REDIS_URL, RunningServer
from tests.test_http import keys_show


def me(server: RunningServer, token: str) -> int:
    return httpx.get(
        f"{server.endpoint}/switchboard/v1/me",
        headers={"Authorization": f"Bearer {token}"},
    ).status_code


def test_nodes_share_the_resource_and_revocation_is_immediate_everywhere(
    server_factory: type, postgres_url: str
) -> None:
    # Caches last five minutes, so only the bus can explain a prompt refusal.
    env = {"SWITCHBOARD_IDENTITY_USER_CACHE_S": "300"}
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    a: RunningServer = server_factory.start(*shared, env=env)
    b: RunningServer = server_factory.start(*shared, env=env)
    assert keys_show(a) == keys_show(b)

    client = CommunicationIdentityClient.from_connection_string(a.connection_string)
    user, token = client.create_user_and_token(["chat"])
    assert me(b, token.token) == 200  # now cached on b

    client.revoke_tokens(user)
    deadline = time.monotonic() + 2
    while me(b, token.token) != 401 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert me(b, token.token) == 401

    # A user created through one node is served by the other.
    other = CommunicationIdentityClient.from_connection_string(b.connection_string)
    fresh = other.get_token(user, ["chat"])
    assert me(a, fresh.token) == 200
