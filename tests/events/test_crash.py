"""No event is lost when a node is killed with SIGKILL in the middle of a burst."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import httpx
from azure.communication.identity import CommunicationIdentityClient

from tests.conftest import RunningServer, signed
from tests.events.conftest import IN_THREAD, NODE_ENV, V
from tests.events.receiver import Receiver

# Short leases, so deliveries the killed node had taken are soon taken again.
CRASH_ENV = {**NODE_ENV, "SWITCHBOARD_EVENTS_LEASE_S": "2"}


class Sender:
    """Sends chat messages in a thread, to whichever node is current, counting 201s."""

    def __init__(self, endpoint: str, token: str, thread_id: str) -> None:
        self.endpoint = endpoint
        self.token = token
        self.path = f"/chat/threads/{quote(thread_id, safe='')}/messages"
        self.accepted: list[str] = []
        self.failures = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            try:
                answer = httpx.post(
                    f"{self.endpoint}{self.path}?api-version=2024-03-07",
                    json={"content": f"burst {n}", "type": "text"},
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=5,
                )
            except httpx.HTTPError:
                self.failures += 1
                time.sleep(0.05)
                continue
            if answer.status_code == 201:
                self.accepted.append(answer.json()["id"])
            else:
                self.failures += 1

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.accepted) >= count


def test_sigkill_during_a_burst_loses_no_event(
    server_factory: type, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "crashing"
    node: RunningServer = server_factory.start(data_dir=data_dir, env=CRASH_ENV)
    body = {"targetUrl": receiver.url, "eventTypes": [IN_THREAD]}
    path = f"/eventSubscriptions/crash-test?{V}"
    assert signed(node, "PUT", path, json.dumps(body).encode()).status_code == 201

    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    _, token = identity.create_user_and_token(["chat"])
    created = httpx.post(
        f"{node.endpoint}/chat/threads?api-version=2024-03-07",
        json={"topic": "burst"},
        headers={"Authorization": f"Bearer {token.token}"},
    )
    assert created.status_code == 201
    sender = Sender(node.endpoint, token.token, created.json()["chatThread"]["id"])
    sender.thread.start()

    # Kill the node while messages are being accepted and delivered.
    sender.wait_for(60)
    assert node.stop(signal.SIGKILL) == -signal.SIGKILL
    time.sleep(0.5)
    restarted: RunningServer = server_factory.start(data_dir=data_dir, env=CRASH_ENV)
    sender.endpoint = restarted.endpoint
    sender.wait_for(len(sender.accepted) + 60)
    sender.done.set()
    sender.thread.join()

    # Every accepted message has its event; repeats carry the same event id.
    deadline = time.monotonic() + 60
    ids_by_message: dict[str, set[str]] = defaultdict(set)
    while time.monotonic() < deadline:
        ids_by_message.clear()
        for item in receiver.events():
            event = item.json()[0]
            ids_by_message[event["data"]["messageId"]].add(event["id"])
        if set(sender.accepted) <= set(ids_by_message):
            break
        time.sleep(0.1)
    missing = set(sender.accepted) - set(ids_by_message)
    assert not missing, f"{len(missing)} of {len(sender.accepted)} events lost"
    assert all(len(ids) == 1 for ids in ids_by_message.values())
    assert len(sender.accepted) >= 120
