"""The event subscription API and `switchboard events`, against a real node."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, signed
from tests.events.conftest import V
from tests.events.receiver import Receiver


def put(node: RunningServer, name: str, body: dict[str, Any]) -> httpx.Response:
    return signed(
        node, "PUT", f"/eventSubscriptions/{name}?{V}", json.dumps(body).encode()
    )


def wait_state(node: RunningServer, name: str, state: str) -> dict[str, Any]:
    for _ in range(200):
        sub: dict[str, Any] = signed(
            node, "GET", f"/eventSubscriptions/{name}?{V}"
        ).json()
        if sub.get("state") == state:
            return sub
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {state}: {sub}")


def test_create_validate_read_change_delete(
    node: RunningServer, receiver: Receiver
) -> None:
    created = put(
        node,
        "crm-1",
        {
            "targetUrl": receiver.url,
            "eventTypes": ["Microsoft.Communication.ChatMessageReceived"],
            "envelope": "cloudevents",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert len(body["secret"]) >= 32
    assert body["state"] == "awaitingValidation"
    assert body["retryPolicy"] == {
        "maxDeliveryAttempts": 30,
        "eventTimeToLiveInMinutes": 1440,
    }

    active = wait_state(node, "crm-1", "active")
    assert "secret" not in active
    assert receiver.received[0].method == "OPTIONS"

    patched = signed(
        node,
        "PATCH",
        f"/eventSubscriptions/crm-1?{V}",
        json.dumps({"subjectBeginsWith": "thread/"}).encode(),
    )
    assert patched.status_code == 200
    assert patched.json()["subjectBeginsWith"] == "thread/"
    assert patched.json()["state"] == "active"

    again = put(node, "crm-1", {"targetUrl": receiver.url, "secret": "x" * 20})
    assert again.status_code == 200 and "secret" not in again.json()

    assert signed(node, "DELETE", f"/eventSubscriptions/crm-1?{V}").status_code == 204
    missing = signed(node, "GET", f"/eventSubscriptions/crm-1?{V}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no event subscription named 'crm-1'"


def test_listing_pages(node: RunningServer, receiver: Receiver) -> None:
    for n in range(5):
        assert put(node, f"sub-{n}", {"targetUrl": receiver.url}).status_code == 201
    names: list[str] = []
    url = f"/eventSubscriptions?maxPageSize=2&{V}"
    while url:
        page = signed(node, "GET", url).json()
        names += [item["name"] for item in page["value"]]
        link = page.get("nextLink", "")
        url = link[link.index("/eventSubscriptions") :] if link else ""
    assert names == [f"sub-{n}" for n in range(5)]


@pytest.mark.parametrize(
    ("name", "body", "target", "message"),
    [
        ("ok-name", {}, "targetUrl", "targetUrl is required"),
        ("x", {"targetUrl": "http://127.0.0.1/"}, "name", "a subscription name is 3"),
        (
            "ok-name",
            {"targetUrl": "http://10.0.0.7/hook"},
            "targetUrl",
            "targetUrl is refused: 10.0.0.7 resolves to 10.0.0.7, which is refused "
            "(private)",
        ),
        (
            "ok-name",
            {"targetUrl": "http://127.0.0.1/", "eventTypes": ["Microsoft.Foo"]},
            "eventTypes",
            "unknown event type 'Microsoft.Foo'",
        ),
        (
            "ok-name",
            {"targetUrl": "http://127.0.0.1/", "secret": "short"},
            "secret",
            "the request body is invalid at secret",
        ),
        (
            "ok-name",
            {
                "targetUrl": "http://127.0.0.1/",
                "retryPolicy": {"maxDeliveryAttempts": 99},
            },
            "retryPolicy.maxDeliveryAttempts",
            "the request body is invalid at retryPolicy.maxDeliveryAttempts",
        ),
        (
            "ok-name",
            {"targetUrl": "http://127.0.0.1/", "envelope": "xml"},
            "envelope",
            "the request body is invalid at envelope",
        ),
    ],
)
def test_bad_subscriptions_are_400_and_change_nothing(
    node: RunningServer, name: str, body: dict[str, Any], target: str, message: str
) -> None:
    response = put(node, name, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["target"] == target
    assert error["message"].startswith(message)
    listed = signed(node, "GET", f"/eventSubscriptions?{V}").json()
    assert listed["value"] == []


def test_loopback_targets_need_the_operator_allow_list(server_factory: type) -> None:
    default: RunningServer = server_factory.start()
    response = put(default, "local", {"targetUrl": "http://127.0.0.1:9/hook"})
    assert response.status_code == 400
    assert "(loopback)" in response.json()["error"]["message"]


def test_the_api_requires_hmac_and_a_known_version(node: RunningServer) -> None:
    assert httpx.get(f"{node.endpoint}/eventSubscriptions?{V}").status_code == 401
    old = signed(node, "GET", "/eventSubscriptions?api-version=2023-10-01")
    assert old.status_code == 400


def test_the_command_line(node: RunningServer, receiver: Receiver) -> None:
    def run(*args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "switchboard", "events", *args,
             "--data-dir", str(node.data_dir)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None

    created = run(
        "create", "cli-sub", "--url", receiver.url, "--envelope", "cloudevents",
        "--type", "Microsoft.Communication.ChatMessageReceived", "--max-attempts", "5",
    )  # fmt: skip
    assert created["retryPolicy"]["maxDeliveryAttempts"] == 5
    wait_state(node, "cli-sub", "active")
    assert [s["name"] for s in run("list")] == ["cli-sub"]
    assert run("show", "cli-sub")["state"] == "active"
    assert run("update", "cli-sub", "--ttl-minutes", "60")["retryPolicy"] == {
        "maxDeliveryAttempts": 5,
        "eventTimeToLiveInMinutes": 60,
    }
    assert run("dead-letters", "cli-sub") == []
    assert run("replay", "cli-sub") == {"replayed": 0}
    run("delete", "cli-sub")
    assert run("list") == []
