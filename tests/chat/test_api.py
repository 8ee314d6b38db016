"""The chat wire over raw HTTPS: api-versions, nextLink, tokens, identifiers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.communication.identity import CommunicationIdentityClient

from tests.chat.conftest import QUICK_STOP, ChatUser, error_of, thread_path


@pytest.mark.parametrize(
    "version", ["2021-03-07", "2021-09-07", "2023-11-07", "2024-03-07", "2025-03-15"]
)
def test_shipped_api_versions_are_served(alice: ChatUser, version: str) -> None:
    answer = alice.http(
        "POST", "/chat/threads", json={"topic": "v"}, **{"api-version": version}
    )

    assert answer.status_code == 201
    assert answer.headers["location"].startswith(alice.server.endpoint)


def test_unknown_api_version_is_refused(alice: ChatUser) -> None:
    answer = alice.http("GET", "/chat/threads", **{"api-version": "2099-01-01"})

    status, code, message = error_of(answer)
    assert (status, code) == (400, "InvalidApiVersion")
    assert message.startswith("api-version '2099-01-01' is not supported")


def test_newer_thread_features_are_refused(alice: ChatUser) -> None:
    answer = alice.http(
        "POST",
        "/chat/threads",
        json={"topic": "m", "metadata": {"a": "b"}},
        **{"api-version": "2025-03-15"},
    )

    assert error_of(answer) == (
        400,
        "NotSupported",
        "thread metadata and retention policies are not supported",
    )


def test_identifiers_carry_kind_raw_id_and_sub_object(
    alice: ChatUser, bob: ChatUser
) -> None:
    created = alice.http(
        "POST",
        "/chat/threads",
        json={
            "topic": "wire",
            "participants": [{"communicationIdentifier": {"rawId": bob.raw_id}}],
        },
    ).json()

    assert created["chatThread"]["createdByCommunicationIdentifier"] == {
        "kind": "communicationUser",
        "rawId": alice.raw_id,
        "communicationUser": {"id": alice.raw_id},
    }
    assert "invalidParticipants" not in created
    listed = alice.http(
        "GET", thread_path(created["chatThread"]["id"], "participants")
    ).json()
    assert {p["communicationIdentifier"]["rawId"] for p in listed["value"]} == {
        alice.raw_id,
        bob.raw_id,
    }


def test_next_link_is_absolute_and_keeps_the_query(alice: ChatUser) -> None:
    thread_id = alice.client.create_chat_thread("links").chat_thread.id
    for i in range(3):
        alice.thread(thread_id).send_message(f"m{i}")
    start = "2020-01-01T00:00:00Z"

    first = alice.http(
        "GET", thread_path(thread_id, "messages"), maxPageSize=2, startTime=start
    ).json()

    link = urlsplit(first["nextLink"])
    query = parse_qs(link.query)
    assert f"{link.scheme}://{link.netloc}" == alice.server.endpoint
    assert link.path == thread_path(thread_id, "messages")
    assert query["maxPageSize"] == ["2"] and query["startTime"] == [start]
    assert query["api-version"] == ["2024-03-07"]
    assert len(query["continuationToken"]) == 1

    second = httpx.get(
        first["nextLink"], headers={"Authorization": f"Bearer {alice.token}"}
    ).json()
    ids = [m["sequenceId"] for m in first["value"] + second["value"]]
    assert ids == ["5", "4", "3", "2"]


@pytest.mark.parametrize(
    ("path", "token"),
    [("messages", "bm90LWEtdG9rZW4"), ("participants", "WyJtIiwzXQ")],
)
def test_foreign_continuation_token_is_refused(
    alice: ChatUser, path: str, token: str
) -> None:
    thread_id = alice.client.create_chat_thread("tokens").chat_thread.id

    answer = alice.http("GET", thread_path(thread_id, path), continuationToken=token)

    assert error_of(answer) == (
        400,
        "BadRequest",
        "the continuationToken is not valid for this list",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"maxPageSize": "0"}, "maxPageSize must be at least 1"),
        ({"maxPageSize": "many"}, "maxPageSize must be an integer"),
        (
            {"startTime": "yesterday"},
            "startTime is not an RFC 3339 date-time: 'yesterday'",
        ),
        (
            {"startTime": "2024-01-01T00:00:00"},
            "startTime must carry a time zone (Z or an offset)",
        ),
    ],
)
def test_bad_query_parameters(
    alice: ChatUser, params: dict[str, Any], message: str
) -> None:
    answer = alice.http("GET", "/chat/threads", **params)

    assert error_of(answer)[0::2] == (400, message)


def test_page_size_is_capped(server_factory: Any) -> None:
    node = server_factory.start(
        env={"SWITCHBOARD_CHAT_MAX_PAGE_SIZE": "2", **QUICK_STOP}
    )
    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    _, token = identity.create_user_and_token(["chat"])
    auth = {"Authorization": f"Bearer {token.token}"}
    for topic in ("a", "b", "c"):
        httpx.post(
            f"{node.endpoint}/chat/threads",
            params={"api-version": "2024-03-07"},
            json={"topic": topic},
            headers=auth,
        ).raise_for_status()

    page = httpx.get(
        f"{node.endpoint}/chat/threads",
        params={"api-version": "2024-03-07", "maxPageSize": "50"},
        headers=auth,
    ).json()

    assert [t["topic"] for t in page["value"]] == ["c", "b"]
    assert "nextLink" in page


def test_missing_token_is_unauthenticated(alice: ChatUser) -> None:
    answer = httpx.get(
        f"{alice.server.endpoint}/chat/threads", params={"api-version": "2024-03-07"}
    )

    assert error_of(answer) == (
        401,
        "Unauthorized",
        "the request has no Authorization header",
    )
