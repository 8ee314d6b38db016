"""The official azure-communication-identity client, sync, against a real node."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from azure.communication.chat import CommunicationTokenCredential
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from tests.conftest import RunningServer


@pytest.fixture
def client(server: RunningServer) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(server.connection_string)


def whoami(server: RunningServer, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.endpoint}/switchboard/v1/me",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_create_user_returns_an_acs_user_id(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user = client.create_user()
    prefix, _, local = user.raw_id.removeprefix("8:acs:").partition("_")
    assert user.raw_id.startswith("8:acs:")
    assert user.raw_id.count("_") == 1
    assert len(prefix) == 36 and len(local) == 36
    assert user.properties["id"] == user.raw_id


def test_create_user_and_token_with_expiry(client: CommunicationIdentityClient) -> None:
    _, token = client.create_user_and_token(
        [CommunicationTokenScope.CHAT, CommunicationTokenScope.VOIP],
        token_expires_in=timedelta(hours=1),
    )
    credential = CommunicationTokenCredential(token.token)
    expires = credential.get_token().expires_on
    issued_for = expires - int(time.time())
    assert 3590 <= issued_for <= 3600
    assert isinstance(token.expires_on, str) and token.expires_on.endswith("Z")


def test_issued_token_works_on_the_data_plane(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user = client.create_user()
    token = client.get_token(user, [CommunicationTokenScope.CHAT])
    answer = whoami(server, token.token)
    assert answer.status_code == 200
    assert answer.json()["id"] == user.raw_id
    assert answer.json()["scopes"] == ["chat"]


def test_default_expiry_is_a_day(client: CommunicationIdentityClient) -> None:
    user = client.create_user()
    token = client.get_token(user, ["chat.join", "voip.join"])
    expires = CommunicationTokenCredential(token.token).get_token().expires_on
    assert 86390 <= expires - int(time.time()) <= 86400


@pytest.mark.parametrize("minutes", [59, 1441])
def test_expiry_outside_the_range_is_refused(
    client: CommunicationIdentityClient, minutes: int
) -> None:
    user = client.create_user()
    with pytest.raises(HttpResponseError) as caught:
        client.get_token(user, ["chat"], token_expires_in=timedelta(minutes=minutes))
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestBody"
    assert "between 60 and 1440" in caught.value.error.message


def test_unknown_scope_is_refused(client: CommunicationIdentityClient) -> None:
    user = client.create_user()
    with pytest.raises(HttpResponseError) as caught:
        client.get_token(user, ["chat", "mail"])
    assert caught.value.status_code == 400
    assert "unknown scope 'mail'" in str(caught.value)


def test_revoke_invalidates_earlier_tokens_only(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user = client.create_user()
    before = client.get_token(user, ["chat"])
    assert whoami(server, before.token).status_code == 200

    client.revoke_tokens(user)
    refused = whoami(server, before.token)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "the access token has been revoked"

    after = client.get_token(user, ["chat"])
    assert whoami(server, after.token).status_code == 200


def test_delete_user_ends_tokens_and_further_issuing(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user, token = client.create_user_and_token(["voip"])
    client.delete_user(user)
    assert whoami(server, token.token).status_code == 401
    with pytest.raises(ResourceNotFoundError):
        client.get_token(user, ["voip"])
    with pytest.raises(ResourceNotFoundError):
        client.delete_user(user)
    with pytest.raises(ResourceNotFoundError):
        client.revoke_tokens(user)


def test_unknown_and_foreign_ids(client: CommunicationIdentityClient) -> None:
    stranger = CommunicationUserIdentifier(
        "8:acs:00000000-0000-0000-0000-000000000000_"
        "11111111-1111-1111-1111-111111111111"
    )
    with pytest.raises(HttpResponseError) as caught:
        client.get_token(stranger, ["chat"])
    assert caught.value.status_code == 400
    assert "not an identity of this resource" in str(caught.value)

    with pytest.raises(HttpResponseError) as caught:
        client.delete_user(CommunicationUserIdentifier("not-an-id"))
    assert caught.value.status_code == 400


def test_teams_token_exchange_is_not_supported(
    client: CommunicationIdentityClient,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.get_token_for_teams_user("aad-token", "app-id", "user-id")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "NotSupported"


def test_wrong_key_is_unauthenticated(server: RunningServer) -> None:
    wrong = "endpoint=" + server.endpoint + "/;accesskey=" + "QUJD" * 11
    client = CommunicationIdentityClient.from_connection_string(wrong)
    with pytest.raises(ClientAuthenticationError) as caught:
        client.create_user()
    assert "signature does not match any access key" in str(caught.value)
    assert "Signature=" not in str(caught.value)
