"""Chat events through webhooks: every chat change, parsed by the official packages."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import CommunicationIdentityClient
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames

from tests.conftest import RunningServer, run_node_tests, signed
from tests.events.conftest import V
from tests.events.receiver import Receiver

ACS = "Microsoft.Communication."


def subscribe(node: RunningServer, name: str, body: dict[str, Any]) -> None:
    answer = signed(
        node, "PUT", f"/eventSubscriptions/{name}?{V}", json.dumps(body).encode()
    )
    assert answer.status_code == 201, answer.text
    for _ in range(200):
        state = signed(node, "GET", f"/eventSubscriptions/{name}?{V}").json()["state"]
        if state == "active":
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not become active")


def wait_for(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    for _ in range(400):
        events = [item.json()[0] for item in receiver.events()]
        if len(events) >= count:
            return events
        time.sleep(0.05)
    kinds = Counter(item.json()[0]["eventType"] for item in receiver.events())
    raise AssertionError(f"{len(receiver.events())} of {count} arrived: {kinds}")


def users(node: RunningServer, n: int) -> list[tuple[str, ChatClient]]:
    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    made = []
    for _ in range(n):
        user, token = identity.create_user_and_token(["chat"])
        client = ChatClient(node.endpoint, CommunicationTokenCredential(token.token))
        made.append((user.raw_id, client))
    return made


def test_every_chat_change_reaches_the_webhook_in_acs_shape(
    node: RunningServer, receiver: Receiver, tmp_path: Path
) -> None:
    subscribe(node, "everything", {"targetUrl": receiver.url})
    (alice, alice_chat), (bob, _), (carol, _) = users(node, 3)
    from azure.communication.identity import CommunicationUserIdentifier as User

    created = alice_chat.create_chat_thread(
        "Plans", thread_participants=[ChatParticipant(identifier=User(bob))]
    )
    thread = alice_chat.get_chat_thread_client(created.chat_thread.id)
    message_id = thread.send_message("Hello 👋", sender_display_name="Alice").id
    thread.update_message(message_id, "Hello again")
    thread.update_topic("New plans")
    thread.add_participants([ChatParticipant(identifier=User(carol))])
    thread.remove_participant(User(carol))
    thread.delete_message(message_id)
    alice_chat.delete_chat_thread(thread.thread_id)

    # Per user and once: created 2+1, received 1+1, edited 1+1, topic 2+1,
    # carol added 3+1, carol removed 3+1, message deleted 1+1, thread deleted 2+1.
    events = wait_for(receiver, 23)
    counts = Counter(e["eventType"].removeprefix(ACS) for e in events)
    assert counts == {
        "ChatThreadCreatedWithUser": 2, "ChatThreadCreated": 1,
        "ChatMessageReceived": 1, "ChatMessageReceivedInThread": 1,
        "ChatMessageEdited": 1, "ChatMessageEditedInThread": 1,
        "ChatThreadPropertiesUpdatedPerUser": 2, "ChatThreadPropertiesUpdated": 1,
        "ChatParticipantAddedToThreadWithUser": 3, "ChatThreadParticipantAdded": 1,
        "ChatParticipantRemovedFromThreadWithUser": 3,
        "ChatThreadParticipantRemoved": 1,
        "ChatMessageDeleted": 1, "ChatMessageDeletedInThread": 1,
        "ChatThreadWithUserDeleted": 2, "ChatThreadDeleted": 1,
    }  # fmt: skip
    known = {
        getattr(SystemEventNames, n).value
        for n in dir(SystemEventNames)
        if n.startswith("Acs")
    }
    assert {e["eventType"] for e in events} <= known
    assert len({e["id"] for e in events}) == len(events)

    parsed = [EventGridEvent.from_dict(e) for e in events]

    # The npm package's typed ACS event models accept every one of them.
    delivered = tmp_path / "events.json"
    delivered.write_text(json.dumps(events))
    run_node_tests(
        "events.test.mjs", passes=2, env={"SWITCHBOARD_EVENTS_FILE": str(delivered)}
    )
    received = next(p for p in parsed if p.event_type == ACS + "ChatMessageReceived")
    data = received.data
    assert received.subject == (
        f"thread/{thread.thread_id}/sender/{alice}/recipient/{bob}"
    )
    assert data["messageBody"] == "Hello 👋"
    assert data["messageId"] == message_id
    assert data["threadId"] == thread.thread_id
    assert data["senderDisplayName"] == "Alice"
    assert data["type"] == "Text"
    assert data["senderCommunicationIdentifier"]["rawId"] == alice
    assert data["recipientCommunicationIdentifier"] == {
        "kind": "communicationUser",
        "rawId": bob,
        "communicationUser": {"id": bob},
    }
    assert isinstance(data["version"], int) and data["transactionId"]
    assert data["composeTime"].endswith("Z")

    edited = next(p for p in parsed if p.event_type == ACS + "ChatMessageEdited")
    assert edited.data["messageBody"] == "Hello again" and edited.data["editTime"]

    created_event = next(p for p in parsed if p.event_type == ACS + "ChatThreadCreated")
    assert created_event.subject == f"thread/{thread.thread_id}/createdBy/{alice}"
    assert created_event.data["properties"] == {"topic": "Plans"}
    assert {
        p["participantCommunicationIdentifier"]["rawId"]
        for p in created_event.data["participants"]
    } == {alice, bob}

    added = next(
        p for p in parsed if p.event_type == ACS + "ChatThreadParticipantAdded"
    )
    assert (
        added.data["participantAdded"]["participantCommunicationIdentifier"]["rawId"]
        == carol
    )
    assert added.data["addedByCommunicationIdentifier"]["rawId"] == alice
    assert added.subject == f"thread/{thread.thread_id}/participantAdded/{carol}"

    # Per subject, events arrive in the order the changes happened.
    per_user = [p for p in parsed if p.subject.endswith(f"/recipient/{bob}")]
    assert [p.event_type.removeprefix(ACS) for p in per_user][:1] == [
        "ChatThreadCreatedWithUser"
    ]


def test_cloudevents_subscribers_get_the_same_events(
    node: RunningServer, receiver: Receiver
) -> None:
    subscribe(
        node,
        "cloud",
        {
            "targetUrl": receiver.url,
            "envelope": "cloudevents",
            "eventTypes": [ACS + "ChatMessageReceived"],
        },
    )
    (_, alice_chat), (bob, _) = users(node, 2)
    from azure.communication.identity import CommunicationUserIdentifier as User

    created = alice_chat.create_chat_thread(
        "CE", thread_participants=[ChatParticipant(identifier=User(bob))]
    )
    thread = alice_chat.get_chat_thread_client(created.chat_thread.id)
    thread.send_message("one")
    thread.send_message("two")

    for _ in range(400):
        if len(receiver.events()) >= 2:
            break
        time.sleep(0.05)
    cloud = [CloudEvent.from_dict(r.json()) for r in receiver.events()]
    assert [c.data["messageBody"] for c in cloud] == ["one", "two"]
    assert all(c.type == ACS + "ChatMessageReceived" for c in cloud)
    assert all(c.source.endswith(node_resource(node)) for c in cloud)


def node_resource(node: RunningServer) -> str:
    banner = node.log()
    return banner.split("Resource id: ")[1].split()[0]
