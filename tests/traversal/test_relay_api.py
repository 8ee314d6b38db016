"""The relay configuration API: the official networktraversal client and raw calls.

Every configuration is proven by allocating on the node's own TURN server with
the URLs and credentials it returned.
"""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime

import httpx
import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)
from azure.communication.networktraversal import CommunicationRelayClient, RouteType
from azure.core.exceptions import HttpResponseError

from switchboard.traversal.credentials import TurnCredentials
from tests.conftest import CA_FILE, RunningServer, signed
from tests.traversal.turnclient import TurnClient, error_of, parse_turn_url, relayed

PATH = "/networkTraversal/:issueRelayConfiguration?api-version=2022-03-01-preview"
STRANGER = (
    "8:acs:00000000-0000-0000-0000-000000000000_11111111-1111-1111-1111-111111111111"
)


@pytest.fixture
def relay(server: RunningServer) -> CommunicationRelayClient:
    return CommunicationRelayClient.from_connection_string(server.connection_string)


@pytest.fixture
def identity(server: RunningServer) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(server.connection_string)


def turn_ports(server: RunningServer) -> dict[str, int]:
    """The TURN ports the node wrote to ports.json."""
    ports: dict[str, int] = json.loads((server.data_dir / "ports.json").read_text())[
        "turn"
    ]
    return ports


async def allocate_with(
    url: str, username: str, password: str
) -> list[tuple[str, int]]:
    """Allocate through one turn:/turns: URL; the relayed addresses granted."""
    kind, host, port = parse_turn_url(url)
    context = ssl.create_default_context(cafile=str(CA_FILE))
    # The URLs name localhost; the listeners are on IPv4 loopback.
    address = "127.0.0.1" if host == "localhost" else host
    client = await TurnClient.connect(kind, (address, port), context, host)
    client.credentials = TurnCredentials(username, password, 0)
    try:
        response = await client.allocate()
        assert error_of(response) is None
        return relayed(response)
    finally:
        client.close()


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


async def test_sdk_configuration_allocates_on_every_transport(
    server: RunningServer,
    relay: CommunicationRelayClient,
    identity: CommunicationIdentityClient,
) -> None:
    user = identity.create_user()
    config = relay.get_relay_configuration(
        user=user, route_type=RouteType.NEAREST, ttl=3600
    )

    ports = turn_ports(server)
    assert len(config.ice_servers) == 1
    ice = config.ice_servers[0]
    assert ice.urls == [
        f"stun:localhost:{ports['udp']}",
        f"turn:localhost:{ports['udp']}?transport=udp",
        f"turn:localhost:{ports['tcp']}?transport=tcp",
        f"turns:localhost:{ports['tls']}?transport=tcp",
    ]
    assert ice.route_type == "nearest"
    expiry, _, name = ice.username.partition(":")
    assert name == user.raw_id
    assert 3590 <= seconds_until(config.expires_on) <= 3600
    assert int(expiry) == int(config.expires_on.timestamp())

    for url in ice.urls[1:]:
        granted = await allocate_with(url, ice.username, ice.credential)
        assert [host for host, _ in granted] == ["127.0.0.1"]


async def test_sdk_without_a_user_gets_the_default_ttl_and_route(
    relay: CommunicationRelayClient,
) -> None:
    config = relay.get_relay_configuration()
    ice = config.ice_servers[0]
    assert ice.route_type == "any"
    assert ice.username.split(":", 1)[1].startswith("anonymous-")
    # The SDK sends its default ttl, 172800 s, the largest the API takes.
    assert 172790 <= seconds_until(config.expires_on) <= 172800
    granted = await allocate_with(ice.urls[1], ice.username, ice.credential)
    assert len(granted) == 1


async def test_a_wrong_credential_is_refused_by_the_node(
    relay: CommunicationRelayClient,
) -> None:
    ice = relay.get_relay_configuration(ttl=60).ice_servers[0]
    kind, _, port = parse_turn_url(ice.urls[1])
    client = await TurnClient.connect(kind, ("127.0.0.1", port))
    client.credentials = TurnCredentials(ice.username, ice.credential[::-1], 0)
    try:
        assert error_of(await client.allocate()) == 401
    finally:
        client.close()


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (-1, "the request body is invalid at ttl: Input should be greater than or "
         "equal to 0"),
        (172801, "the request body is invalid at ttl: Input should be less than or "
         "equal to 172800"),
    ],
)  # fmt: skip
def test_sdk_ttl_out_of_range_is_refused(
    relay: CommunicationRelayClient, ttl: int, message: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        relay.get_relay_configuration(ttl=ttl)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestBody"
    assert caught.value.error.message == message
    assert caught.value.error.target == "ttl"


def test_sdk_unknown_route_type_is_refused(relay: CommunicationRelayClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        relay.get_relay_configuration(route_type="fastest")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.message == (
        "the request body is invalid at routeType: Input should be 'any' or 'nearest'"
    )


def test_sdk_foreign_and_unknown_ids_are_refused(
    relay: CommunicationRelayClient,
    identity: CommunicationIdentityClient,
    server: RunningServer,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        relay.get_relay_configuration(user=CommunicationUserIdentifier(STRANGER))
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.message == (
        f"{STRANGER!r} is not an identity of this resource"
    )
    assert caught.value.error.target == "id"

    gone = identity.create_user()
    identity.delete_user(gone)
    with pytest.raises(HttpResponseError) as caught:
        relay.get_relay_configuration(user=gone)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.message == f"the identity {gone.raw_id} does not exist"

    answer = signed(server, "POST", PATH, b'{"id": "4:+15551234567"}')
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "InvalidRequestBody",
        "message": "'4:+15551234567' is not a communication user id "
        "(expected 8:acs:<resource id>_<uuid>)",
        "target": "id",
    }


def test_raw_call_without_a_body_and_with_older_api_versions(
    server: RunningServer,
) -> None:
    for version in ("2022-03-01-preview", "2021-10-08-preview", "2021-06-21-preview"):
        path = f"/networkTraversal/:issueRelayConfiguration?api-version={version}"
        answer = signed(server, "POST", path)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"expiresOn", "iceServers"}
        assert body["expiresOn"].endswith("Z")
        assert set(body["iceServers"][0]) == {
            "urls",
            "username",
            "credential",
            "routeType",
        }


def test_raw_call_errors(server: RunningServer) -> None:
    path = "/networkTraversal/:issueRelayConfiguration?api-version=2020-01-01"
    answer = signed(server, "POST", path)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidApiVersion"

    unsigned = httpx.post(f"{server.endpoint}{PATH}", json={})
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "Unauthorized"

    wrong_type = signed(server, "POST", PATH, b'{"ttl": "3600"}')
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["message"] == (
        "the request body is invalid at ttl: Input should be a valid integer"
    )


def user_relay(
    server: RunningServer, token: str | None, query: str = ""
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server.endpoint}/switchboard/v1/relay{query}", headers=headers)


async def test_user_endpoint_gives_the_token_holder_credentials(
    server: RunningServer, identity: CommunicationIdentityClient
) -> None:
    user, token = identity.create_user_and_token(["voip"])
    answer = user_relay(server, token.token, "?ttl=600&routeType=nearest")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    ice = body["iceServers"][0]
    assert ice["routeType"] == "nearest"
    expiry, _, name = ice["username"].partition(":")
    assert name == user.raw_id
    assert 590 <= int(expiry) - time.time() <= 600
    assert ice["urls"][0] == f"stun:localhost:{turn_ports(server)['udp']}"

    granted = await allocate_with(ice["urls"][2], ice["username"], ice["credential"])
    assert len(granted) == 1


def test_user_endpoint_refusals(
    server: RunningServer, identity: CommunicationIdentityClient
) -> None:
    missing = user_relay(server, None)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == (
        "the request has no Authorization header"
    )

    _, chat_only = identity.create_user_and_token(["chat"])
    forbidden = user_relay(server, chat_only.token)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"] == (
        "the access token needs the voip or voip.join scope"
    )

    _, token = identity.create_user_and_token(["voip.join"])
    for query, message in (
        ("?ttl=-5", "ttl must be a whole number of seconds from 0 to 172800, not '-5'"),
        ("?ttl=172801", "ttl must be a whole number of seconds from 0 to 172800, "
         "not '172801'"),
        ("?routeType=fastest", "routeType must be 'any' or 'nearest', not 'fastest'"),
    ):  # fmt: skip
        refused = user_relay(server, token.token, query)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == message


def test_the_shared_secret_is_kept_private(server: RunningServer) -> None:
    secret_file = server.data_dir / "turn-secret"
    secret = secret_file.read_text().strip()
    assert len(secret) == 64
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert secret not in server.log()
    assert "TURN shared secret (secret):" in server.log()
