"""Chat messages become pushes at every provider, with retries and removals."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx

from switchboard.client import ChatClient, RealtimeClient
from switchboard.push.payloads import collapse_key
from tests.conftest import RunningServer
from tests.push.conftest import call, register
from tests.push.providers import APNS_TOPIC, Answer, Providers
from tests.realtime.support import new_user, thread_with

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def _queued(node: RunningServer, registration_id: str) -> int:
    """Pushes ever queued for one registration, as the node's database holds them."""
    database = node.data_dir / "switchboard.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM push_deliveries WHERE registration_id = ?",
            (registration_id,),
        ).fetchone()
    return int(count)


def _gone(node: RunningServer, token: str, registration_id: str) -> None:
    """Wait until a registration has been removed."""
    deadline = time.monotonic() + 60
    while call(node, "GET", token, f"/{registration_id}").status_code != 404:
        assert time.monotonic() < deadline, f"{registration_id} was not removed"
        time.sleep(0.05)


async def _send(node: RunningServer, token: str, thread: str, text: str) -> str:
    async with ChatClient(node.endpoint, token) as chat:
        message_id: str = await chat.send_message(
            thread, text, sender_display_name="Ada"
        )
    return message_id


def _device(
    node: RunningServer, token: str, platform: str, device: Any, app: str = "app"
) -> dict[str, Any]:
    body: dict[str, Any] = {"platform": platform, "appId": app}
    body["subscription" if platform == "webpush" else "deviceToken"] = device
    answer = register(node, token, body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def test_a_message_pushes_to_every_device_of_an_offline_recipient(
    push_node: RunningServer, providers: Providers
) -> None:
    (ada, ada_token), (bob, bob_token) = [await new_user(push_node) for _ in range(2)]
    apns, voip, fcm = "a1" * 32, "b1" * 32, "fcm-offline-" + "x" * 30
    wns = providers.wns_channel()
    push_id, subscription = providers.web_push_subscription()
    for platform, device in [
        ("apns", apns), ("apns-voip", voip), ("fcm", fcm), ("wns", wns),
        ("webpush", subscription),
    ]:  # fmt: skip
        _device(push_node, bob_token, platform, device)
    ada_phone = _device(push_node, ada_token, "fcm", "fcm-sender-" + "y" * 30)
    thread = await thread_with(push_node, ada_token, [bob])

    message_id = await _send(push_node, ada_token, thread, "Lunch <b>at 1</b>?")

    expected = {
        "type": "chatMessageReceived",
        "threadId": thread,
        "messageId": message_id,
        "senderId": ada,
        "senderDisplayName": "Ada",
        "preview": "Lunch <b>at 1</b>?",
        "endpoint": push_node.endpoint,
    }
    key = collapse_key(thread)
    [ios] = await providers.wait_for("apns", apns)
    assert ios.http_version == "2"
    assert ios.headers["apns-push-type"] == "alert"
    assert ios.headers["apns-topic"] == APNS_TOPIC
    assert ios.headers["apns-priority"] == "10"
    assert ios.headers["apns-collapse-id"] == key
    assert ios.payload == {
        "aps": {
            "alert": {"title": "Ada", "body": "Lunch <b>at 1</b>?"},
            "sound": "default",
            "thread-id": thread,
            "mutable-content": 1,
        },
        "switchboard": expected,
    }

    [android] = await providers.wait_for("fcm", fcm)
    assert android.payload == {
        "token": fcm,
        "data": expected,
        "android": {"priority": "NORMAL", "ttl": "86400s", "collapse_key": key},
    }

    [windows] = await providers.wait_for("wns", wns.rsplit("/", 1)[1])
    assert windows.headers["x-wns-type"] == "wns/toast"
    assert windows.headers["x-wns-tag"] == key[:16]
    assert "<text>Ada</text><text>Lunch &lt;b&gt;at 1&lt;/b&gt;?</text>" in (
        windows.payload
    )

    [browser] = await providers.wait_for("webpush", push_id)
    assert browser.payload == expected
    assert browser.headers["topic"] == key
    assert browser.headers["urgency"] == "normal"
    assert browser.headers["ttl"] == "86400"

    assert providers.of("apns", voip) == []
    assert _queued(push_node, ada_phone["id"]) == 0
    # The sender counts a push once the provider's answer is back, a moment
    # after the provider has seen it.
    wanted = [
        f'switchboard_push_sends_total{{outcome="sent",platform="{platform}"}}'
        for platform in ("apns", "fcm", "wns", "webpush")
    ]
    deadline = time.monotonic() + 30
    while True:
        metrics = httpx.get(f"{push_node.http_endpoint}/metrics").text
        missing = [line for line in wanted if line not in metrics]
        if not missing:
            break
        assert time.monotonic() < deadline, f"never counted: {missing}"
        time.sleep(0.05)


async def test_a_recipient_with_a_live_connection_gets_no_push(
    push_node: RunningServer, providers: Providers
) -> None:
    (_, ada_token), (bob, bob_token), (cy, cy_token) = [
        await new_user(push_node) for _ in range(3)
    ]
    bob_phone = _device(push_node, bob_token, "fcm", "fcm-bob-" + "b" * 30)
    cy_phone = _device(push_node, cy_token, "fcm", "fcm-cy-" + "c" * 30)
    thread = await thread_with(push_node, ada_token, [bob, cy])

    async with RealtimeClient(push_node.endpoint, cy_token) as live:
        assert live.ready is not None
        await _send(push_node, ada_token, thread, "who is here?")
        await providers.wait_for("fcm", "fcm-bob-" + "b" * 30)

    assert _queued(push_node, bob_phone["id"]) == 1
    assert _queued(push_node, cy_phone["id"]) == 0


async def test_transient_errors_are_retried_honouring_retry_after(
    push_node: RunningServer, providers: Providers
) -> None:
    (_, ada_token), (bob, bob_token) = [await new_user(push_node) for _ in range(2)]
    fcm, apns = "fcm-retry-" + "r" * 30, "c2" * 32
    providers.scripts[fcm] = [
        Answer(503, {"error": {"status": "UNAVAILABLE"}}, {"Retry-After": "2"}),
        Answer(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}),
    ]
    providers.scripts[apns] = [Answer(500, {"reason": "InternalServerError"})]
    _device(push_node, bob_token, "fcm", fcm)
    _device(push_node, bob_token, "apns", apns)
    thread = await thread_with(push_node, ada_token, [bob])
    started = time.monotonic()

    await _send(push_node, ada_token, thread, "try again")

    attempts = await providers.wait_for("fcm", fcm, count=3)
    assert len(await providers.wait_for("apns", apns, count=2)) == 2
    assert time.monotonic() - started >= 2.0
    # Each attempt is the same push.
    assert len({a.body for a in attempts}) == 1


async def test_a_device_the_provider_no_longer_knows_is_removed(
    push_node: RunningServer, providers: Providers
) -> None:
    (_, ada_token), (bob, bob_token) = [await new_user(push_node) for _ in range(2)]
    apns, fcm = "d3" * 32, "fcm-gone-" + "g" * 30
    wns = providers.wns_channel()
    wns_id = wns.rsplit("/", 1)[1]
    gone_push, gone_sub = providers.web_push_subscription()
    lost_push, lost_sub = providers.web_push_subscription()
    providers.scripts[apns] = [Answer(410, {"reason": "Unregistered"})]
    providers.scripts[fcm] = [
        Answer(
            404,
            {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "details": [
                        {
                            "@type": FCM_ERROR,
                            "errorCode": "UNREGISTERED",
                        }
                    ],
                }
            },
        )
    ]
    providers.scripts[wns_id] = [Answer(410)]
    providers.scripts[gone_push] = [Answer(410)]
    del providers.browsers[lost_push]  # its push service answers 404
    made = [
        _device(push_node, bob_token, "apns", apns),
        _device(push_node, bob_token, "fcm", fcm),
        _device(push_node, bob_token, "wns", wns),
        _device(push_node, bob_token, "webpush", gone_sub),
        _device(push_node, bob_token, "webpush", lost_sub),
    ]
    thread = await thread_with(push_node, ada_token, [bob])

    await _send(push_node, ada_token, thread, "anyone?")

    for registration in made:
        _gone(push_node, bob_token, registration["id"])
    assert call(push_node, "GET", bob_token).json()["value"] == []


async def test_a_push_refused_for_itself_is_dropped_and_the_device_kept(
    push_node: RunningServer, providers: Providers
) -> None:
    (_, ada_token), (bob, bob_token) = [await new_user(push_node) for _ in range(2)]
    apns = "e4" * 32
    providers.scripts[apns] = [Answer(413, {"reason": "PayloadTooLarge"})]
    phone = _device(push_node, bob_token, "apns", apns)
    thread = await thread_with(push_node, ada_token, [bob])

    await _send(push_node, ada_token, thread, "too big, says the provider")
    await providers.wait_for("apns", apns)
    await _send(push_node, ada_token, thread, "fine")

    pushes = await providers.wait_for("apns", apns, count=2)
    assert pushes[1].payload["aps"]["alert"]["body"] == "fine"
    assert call(push_node, "GET", bob_token, f"/{phone['id']}").status_code == 200
