"""Per-user and per-thread budgets: 429 with Retry-After, on one or two nodes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError

from tests.chat.conftest import QUICK_STOP
from tests.conftest import REDIS_URL, RunningServer

LOW_LIMITS = {
    "SWITCHBOARD_CHAT_RATE_WINDOW_S": "600",
    "SWITCHBOARD_CHAT_USER_REQUESTS": "4",
    "SWITCHBOARD_CHAT_THREAD_REQUESTS": "6",
    **QUICK_STOP,
}


def user_and_client(node: RunningServer) -> tuple[Any, ChatClient]:
    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    user, token = identity.create_user_and_token(["chat"])
    # The SDK retries 429; this client must see the first one.
    client = ChatClient(
        node.endpoint, CommunicationTokenCredential(token.token), retry_total=0
    )
    return user, client


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_user_budget_gives_429_with_retry_after(
    server_factory: Any, backend: str
) -> None:
    args = ["--redis", REDIS_URL] if backend == "redis" else []
    node = server_factory.start(*args, env=LOW_LIMITS)
    _, client = user_and_client(node)

    for _ in range(4):
        client.create_chat_thread("allowed")
    with pytest.raises(HttpResponseError) as caught:
        client.create_chat_thread("one too many")

    assert caught.value.status_code == 429
    assert caught.value.error.code == "TooManyRequests"
    assert caught.value.error.message.startswith("too many requests for this user")
    retry_after = int(caught.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 150
    client.close()


def test_thread_budget_is_shared_by_its_participants(server_factory: Any) -> None:
    node = server_factory.start(env=LOW_LIMITS)
    _, alice_client = user_and_client(node)
    bob, bob_client = user_and_client(node)
    carol, carol_client = user_and_client(node)
    thread_id = alice_client.create_chat_thread(
        "Shared",
        thread_participants=[ChatParticipant(identifier=u) for u in (bob, carol)],
    ).chat_thread.id

    # Six requests on the thread from three users, none over their own budget.
    for client in (alice_client, bob_client, carol_client):
        for _ in range(2):
            client.get_chat_thread_client(thread_id, retry_total=0).send_message("hi")
    with pytest.raises(HttpResponseError) as caught:
        bob_client.get_chat_thread_client(
            thread_id, retry_total=0
        ).send_typing_notification()

    assert caught.value.status_code == 429
    assert caught.value.error.message.startswith(
        "too many requests for this user or chat thread"
    )
    # A request that names no thread is still within Bob's own budget.
    assert bob_client.create_chat_thread("elsewhere").chat_thread.id
    for client in (alice_client, bob_client, carol_client):
        client.close()


def test_two_nodes_share_budgets_through_redis(
    server_factory: Any, postgres_url: str
) -> None:
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    first = server_factory.start(*shared, env=LOW_LIMITS)
    second = server_factory.start(*shared, env=LOW_LIMITS)
    identity = CommunicationIdentityClient.from_connection_string(
        first.connection_string
    )
    _, token = identity.create_user_and_token(["chat"])
    auth = {"Authorization": f"Bearer {token.token}"}

    def create(node: RunningServer) -> httpx.Response:
        return httpx.post(
            f"{node.endpoint}/chat/threads",
            params={"api-version": "2024-03-07"},
            json={"topic": "t"},
            headers=auth,
        )

    statuses = [create(node).status_code for node in (first, second) * 2]
    refused = create(second)

    assert statuses == [201, 201, 201, 201]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
