"""Two nodes on one PostgreSQL database and one Redis share the event work."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import httpx
from azure.communication.identity import CommunicationIdentityClient

from tests.conftest import REDIS_URL, RunningServer, signed
from tests.events.conftest import IN_THREAD, NODE_ENV, V
from tests.events.receiver import Receiver


def test_events_caused_on_either_node_arrive_once_each(
    server_factory: type, postgres_url: str, receiver: Receiver
) -> None:
    shared = ["--database", postgres_url, "--redis", REDIS_URL]
    a: RunningServer = server_factory.start(*shared, env=NODE_ENV)
    b: RunningServer = server_factory.start(*shared, env=NODE_ENV)

    # Subscribed through one node, validated by whichever dispatcher gets there.
    body = json.dumps({"targetUrl": receiver.url, "eventTypes": [IN_THREAD]})
    path = f"/eventSubscriptions/shared?{V}"
    assert signed(a, "PUT", path, body.encode()).status_code == 201
    for _ in range(200):
        if signed(b, "GET", path).json()["state"] == "active":
            break
        time.sleep(0.05)

    connection = a.connection_string
    identity = CommunicationIdentityClient.from_connection_string(connection)
    _, token = identity.create_user_and_token(["chat"])
    auth = {"Authorization": f"Bearer {token.token}"}
    thread = httpx.post(
        f"{a.endpoint}/chat/threads?api-version=2024-03-07",
        json={"topic": "two nodes"},
        headers=auth,
    ).json()["chatThread"]["id"]
    sent = []
    for n in range(40):
        node = a if n % 2 else b
        answer = httpx.post(
            f"{node.endpoint}/chat/threads/{quote(thread, safe='')}/messages"
            "?api-version=2024-03-07",
            json={"content": f"m{n}"},
            headers=auth,
        )
        assert answer.status_code == 201
        sent.append(answer.json()["id"])

    for _ in range(400):
        if len(receiver.events()) >= len(sent):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # anything delivered twice would have arrived by now
    arrived = [item.json()[0]["data"]["messageId"] for item in receiver.events()]
    # Same subject (one sender), so the order is the order of sending.
    assert arrived == sent
