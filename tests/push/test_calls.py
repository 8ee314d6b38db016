"""An incoming call rings every device of the callee through its provider."""

from __future__ import annotations

from typing import Any

from switchboard.client import RealtimeClient
from tests.conftest import RunningServer
from tests.push.conftest import register
from tests.push.providers import APNS_TOPIC, Providers
from tests.realtime.support import new_user


def _device(node: RunningServer, token: str, platform: str, device: Any) -> None:
    body: dict[str, Any] = {"platform": platform, "appId": "app"}
    body["subscription" if platform == "webpush" else "deviceToken"] = device
    answer = register(node, token, body)
    assert answer.status_code == 201, answer.text


async def test_call_start_pushes_to_the_callees_devices(
    push_node: RunningServer, providers: Providers
) -> None:
    ada, ada_token = await new_user(push_node, ("voip",))
    bob, bob_token = await new_user(push_node, ("voip",))
    voip, alert, fcm = "f5" * 32, "f6" * 32, "fcm-call-" + "z" * 30
    wns = providers.wns_channel()
    push_id, subscription = providers.web_push_subscription()
    for platform, device in [
        ("apns-voip", voip), ("apns", alert), ("fcm", fcm), ("wns", wns),
        ("webpush", subscription),
    ]:  # fmt: skip
        _device(push_node, bob_token, platform, device)

    async with RealtimeClient(push_node.endpoint, ada_token, reconnect=False) as caller:
        started = await caller.request(
            "call.start", {"targets": [bob], "subject": "Standup", "video": True}
        )
    call_id = started["call"]["callId"]

    expected = {
        "type": "incomingCall",
        "callId": call_id,
        "callerId": ada,
        "callerDisplayName": "",
        "subject": "Standup",
        "video": True,
        "kind": "direct",
        "endpoint": push_node.endpoint,
    }
    [ios] = await providers.wait_for("apns", voip)
    assert ios.http_version == "2"
    assert ios.headers["apns-push-type"] == "voip"
    assert ios.headers["apns-topic"] == f"{APNS_TOPIC}.voip"
    assert ios.headers["apns-priority"] == "10"
    assert "apns-collapse-id" not in ios.headers
    assert ios.payload == {"aps": {}, "switchboard": expected}

    [android] = await providers.wait_for("fcm", fcm)
    assert android.payload == {
        "token": fcm,
        "data": {**expected, "video": "true"},
        "android": {"priority": "HIGH", "ttl": "60s"},
    }

    [windows] = await providers.wait_for("wns", wns.rsplit("/", 1)[1])
    assert windows.headers["x-wns-type"] == "wns/raw"
    assert windows.payload == expected

    [browser] = await providers.wait_for("webpush", push_id)
    assert browser.payload == expected
    assert browser.headers["urgency"] == "high"
    assert browser.headers["ttl"] == "60"
    assert "topic" not in browser.headers

    assert providers.of("apns", alert) == []


async def test_a_connected_callee_is_pushed_too(
    push_node: RunningServer, providers: Providers
) -> None:
    ada, ada_token = await new_user(push_node, ("voip",))
    bob, bob_token = await new_user(push_node, ("voip",))
    voip = "f7" * 32
    _device(push_node, bob_token, "apns-voip", voip)

    async with (
        RealtimeClient(push_node.endpoint, bob_token, reconnect=False),
        RealtimeClient(push_node.endpoint, ada_token, reconnect=False) as caller,
    ):
        started = await caller.request("call.start", {"targets": [bob]})
        [ios] = await providers.wait_for("apns", voip)

    assert ios.payload["switchboard"]["callId"] == started["call"]["callId"]
    assert ios.payload["switchboard"]["callerId"] == ada
