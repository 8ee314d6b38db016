"""Chat test helpers: users with tokens, official SDK clients, raw HTTPS calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    ChatThreadClient,
    CommunicationTokenCredential,
)
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)

from tests.conftest import RunningServer

API_VERSION = "2024-03-07"

QUICK_STOP = {"SWITCHBOARD_SHUTDOWN_GRACE_S": "1"}
"""For nodes one test starts: SDK clients keep idle connections a stop waits for."""


@dataclass
class ChatUser:
    """A user of the server, its token, and an official ChatClient for it."""

    server: RunningServer
    identifier: CommunicationUserIdentifier
    token: str
    client: ChatClient

    @property
    def raw_id(self) -> str:
        """The user's raw id."""
        return str(self.identifier.raw_id)

    def thread(self, thread_id: str) -> ChatThreadClient:
        """An official ChatThreadClient for this user."""
        return self.client.get_chat_thread_client(thread_id)

    def participant(self, name: str | None = None, **extra: Any) -> ChatParticipant:
        """This user as a ChatParticipant to add somewhere."""
        return ChatParticipant(identifier=self.identifier, display_name=name, **extra)

    def http(
        self, method: str, path: str, json: Any = None, **params: Any
    ) -> httpx.Response:
        """A raw HTTPS request with this user's token, for what the SDK cannot send."""
        params.setdefault("api-version", API_VERSION)
        return httpx.request(
            method,
            f"{self.server.endpoint}{path}",
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {self.token}"},
        )


def thread_path(thread_id: str, *rest: str) -> str:
    """`/chat/threads/{id}/...` with the id percent-encoded as the SDKs do."""
    return "/".join(["/chat/threads", quote(thread_id, safe=""), *rest])


@pytest.fixture
def identity(server: RunningServer) -> CommunicationIdentityClient:
    """The identity client a trusted service would hold."""
    return CommunicationIdentityClient.from_connection_string(server.connection_string)


UserFactory = Callable[..., ChatUser]


@pytest.fixture
def make_user(
    server: RunningServer, identity: CommunicationIdentityClient
) -> Iterator[UserFactory]:
    """Create users with tokens of the given scopes (chat by default)."""
    clients: list[ChatClient] = []

    def make(scopes: tuple[str, ...] = ("chat",), **client_args: Any) -> ChatUser:
        user, token = identity.create_user_and_token(list(scopes))
        client = ChatClient(
            server.endpoint, CommunicationTokenCredential(token.token), **client_args
        )
        clients.append(client)
        return ChatUser(server, user, token.token, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def alice(make_user: UserFactory) -> ChatUser:
    """A user with a chat token."""
    return make_user()


@pytest.fixture
def bob(make_user: UserFactory) -> ChatUser:
    """Another user with a chat token."""
    return make_user()


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """Status, error code and message of an ACS error response."""
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]
