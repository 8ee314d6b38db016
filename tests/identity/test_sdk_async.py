"""The official azure-communication-identity aio client (aiohttp) against a node."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from azure.communication.chat import CommunicationTokenCredential
from azure.communication.chat.aio import (
    CommunicationTokenCredential as AsyncCommunicationTokenCredential,
)
from azure.communication.identity import (
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.communication.identity.aio import CommunicationIdentityClient
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from switchboard.tls import ensure_dev_tls
from tests.conftest import CA_FILE, RunningServer

STRANGER = CommunicationUserIdentifier(
    "8:acs:00000000-0000-0000-0000-000000000000_11111111-1111-1111-1111-111111111111"
)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[CommunicationIdentityClient]:
    # No connection_verify argument: aiohttp verifies against SSL_CERT_FILE.
    identity = CommunicationIdentityClient.from_connection_string(
        server.connection_string
    )
    async with identity:
        yield identity


async def whoami(server: RunningServer, token: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(
            f"{server.endpoint}/switchboard/v1/me",
            headers={"Authorization": f"Bearer {token}"},
        )


def seconds_left(token: str) -> int:
    expires_on: int = CommunicationTokenCredential(token).get_token().expires_on
    return expires_on - int(time.time())


async def test_create_user_returns_an_acs_user_id(
    client: CommunicationIdentityClient,
) -> None:
    user = await client.create_user()

    prefix, _, local = user.raw_id.removeprefix("8:acs:").partition("_")
    assert user.raw_id.startswith("8:acs:")
    assert user.raw_id.count("_") == 1
    assert len(prefix) == 36 and len(local) == 36
    assert user.properties["id"] == user.raw_id


async def test_create_user_and_token_with_expiry(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user, token = await client.create_user_and_token(
        [CommunicationTokenScope.CHAT, CommunicationTokenScope.VOIP],
        token_expires_in=timedelta(hours=1),
    )

    assert 3590 <= seconds_left(token.token) <= 3600
    assert isinstance(token.expires_on, str) and token.expires_on.endswith("Z")
    answer = await whoami(server, token.token)
    assert answer.status_code == 200
    assert answer.json()["id"] == user.raw_id
    assert answer.json()["scopes"] == ["chat", "voip"]


async def test_create_user_and_token_default_expiry_is_a_day(
    client: CommunicationIdentityClient,
) -> None:
    _, token = await client.create_user_and_token([CommunicationTokenScope.CHAT])

    assert 86390 <= seconds_left(token.token) <= 86400


async def test_get_token_works_on_the_data_plane(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user = await client.create_user()
    token = await client.get_token(
        user, ["chat.join", "voip.join"], token_expires_in=timedelta(minutes=90)
    )

    assert 5390 <= seconds_left(token.token) <= 5400
    answer = await whoami(server, token.token)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": user.raw_id,
        "scopes": ["chat.join", "voip.join"],
        "expiresOn": token.expires_on,
    }


async def test_get_token_default_expiry_is_a_day(
    client: CommunicationIdentityClient,
) -> None:
    user = await client.create_user()
    token = await client.get_token(user, [CommunicationTokenScope.VOIP])

    assert 86390 <= seconds_left(token.token) <= 86400


@pytest.mark.parametrize("minutes", [59, 1441])
async def test_expiry_outside_the_range_is_refused(
    client: CommunicationIdentityClient, minutes: int
) -> None:
    user = await client.create_user()

    with pytest.raises(HttpResponseError) as caught:
        await client.get_token(
            user, ["chat"], token_expires_in=timedelta(minutes=minutes)
        )
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestBody"
    assert caught.value.error.message == (
        f"expiresInMinutes must be between 60 and 1440, not {minutes}"
    )


async def test_create_user_and_token_with_expiry_out_of_range_creates_nobody(
    client: CommunicationIdentityClient,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await client.create_user_and_token(
            ["chat"], token_expires_in=timedelta(minutes=1441)
        )
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestBody"


async def test_unknown_scope_is_refused(client: CommunicationIdentityClient) -> None:
    user = await client.create_user()

    with pytest.raises(HttpResponseError) as caught:
        await client.get_token(user, ["chat", "mail"])
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidRequestBody"
    assert "unknown scope 'mail'" in caught.value.error.message

    with pytest.raises(HttpResponseError) as caught:
        await client.create_user_and_token(["mail"])
    assert caught.value.status_code == 400
    assert "unknown scope 'mail'" in str(caught.value)


async def test_revoke_invalidates_earlier_tokens_only(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user = await client.create_user()
    before = await client.get_token(user, ["chat"])
    assert (await whoami(server, before.token)).status_code == 200

    await client.revoke_tokens(user)
    refused = await whoami(server, before.token)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "the access token has been revoked"

    after = await client.get_token(user, ["chat"])
    assert (await whoami(server, after.token)).status_code == 200


async def test_deleted_user_is_not_found(
    client: CommunicationIdentityClient, server: RunningServer
) -> None:
    user, token = await client.create_user_and_token(["voip"])

    await client.delete_user(user)
    assert (await whoami(server, token.token)).status_code == 401

    message = f"the identity {user.raw_id} does not exist"
    with pytest.raises(ResourceNotFoundError) as caught:
        await client.get_token(user, ["voip"])
    assert caught.value.status_code == 404
    assert caught.value.error is not None
    assert caught.value.error.message == message
    with pytest.raises(ResourceNotFoundError):
        await client.delete_user(user)
    with pytest.raises(ResourceNotFoundError):
        await client.revoke_tokens(user)


async def test_foreign_and_malformed_ids_are_bad_requests(
    client: CommunicationIdentityClient,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await client.get_token(STRANGER, ["chat"])
    assert caught.value.status_code == 400
    assert "not an identity of this resource" in str(caught.value)

    with pytest.raises(HttpResponseError) as caught:
        await client.revoke_tokens(STRANGER)
    assert caught.value.status_code == 400

    with pytest.raises(HttpResponseError) as caught:
        await client.delete_user(CommunicationUserIdentifier("not-an-id"))
    assert caught.value.status_code == 400
    assert "'not-an-id' is not an identity of this resource" in str(caught.value)


async def test_teams_token_exchange_is_not_supported(
    client: CommunicationIdentityClient,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await client.get_token_for_teams_user("aad-token", "app-id", "user-id")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "NotSupported"
    assert "not supported" in caught.value.error.message


async def test_wrong_key_is_unauthenticated(server: RunningServer) -> None:
    wrong = f"endpoint={server.endpoint}/;accesskey={'QUJD' * 11}"

    async with CommunicationIdentityClient.from_connection_string(wrong) as client:
        with pytest.raises(ClientAuthenticationError) as caught:
            await client.create_user()
    assert caught.value.status_code == 401
    assert "signature does not match any access key" in str(caught.value)
    assert "Signature=" not in str(caught.value)


async def test_the_transport_verifies_the_server_certificate(
    server: RunningServer, tmp_path: Path
) -> None:
    # The CA the suite trusts through SSL_CERT_FILE, given explicitly, is accepted...
    trusted = CommunicationIdentityClient.from_connection_string(
        server.connection_string, connection_verify=str(CA_FILE)
    )
    async with trusted:
        assert (await trusted.create_user()).raw_id.startswith("8:acs:")

    # ...and an unrelated CA is not, so verification really happens.
    other_ca = ensure_dev_tls(tmp_path, []).ca
    assert other_ca is not None
    untrusted = CommunicationIdentityClient.from_connection_string(
        server.connection_string, connection_verify=str(other_ca)
    )
    async with untrusted:
        with pytest.raises(ServiceRequestError) as caught:
            await untrusted.create_user()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


async def test_async_token_credential_reads_the_expiry(
    client: CommunicationIdentityClient,
) -> None:
    user = await client.create_user()
    token = await client.get_token(
        user, ["chat"], token_expires_in=timedelta(minutes=120)
    )

    async with AsyncCommunicationTokenCredential(token.token) as credential:
        access = await credential.get_token()
    assert access.token == token.token
    assert 7190 <= access.expires_on - int(time.time()) <= 7200
