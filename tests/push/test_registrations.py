"""The registrations API: register, refresh, list, remove, and hard validation."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import RunningServer
from tests.push.conftest import API, REGISTRATIONS, call, register
from tests.push.providers import Providers
from tests.push.webpush_crypto import b64url, unb64url
from tests.realtime.support import delete, new_user

APNS_TOKEN = "ab" * 32


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _error(answer: httpx.Response) -> tuple[int, str, str]:
    error = answer.json()["error"]
    return answer.status_code, error["code"], error.get("target", "")


async def test_a_web_push_subscription_is_registered_listed_and_refreshed(
    push_node: RunningServer, providers: Providers
) -> None:
    _, token = await new_user(push_node)
    _, subscription = providers.web_push_subscription()
    body = {"platform": "webpush", "appId": "web", "subscription": subscription}

    made = register(push_node, token, body)
    again = register(push_node, token, body)
    listed = call(push_node, "GET", token)

    assert made.status_code == 201
    registration = made.json()
    assert made.headers["location"] == f"{REGISTRATIONS}/{registration['id']}"
    assert registration["platform"] == "webpush"
    assert registration["appId"] == "web"
    assert registration["subscription"] == {
        "endpoint": subscription["endpoint"],
        "keys": {"p256dh": subscription["keys"]["p256dh"]},  # type: ignore[index]
    }
    assert "auth" not in registration["subscription"]["keys"]
    assert again.status_code == 200
    assert again.json()["id"] == registration["id"]
    assert [r["id"] for r in listed.json()["value"]] == [registration["id"]]


async def test_a_user_has_several_devices_and_sees_only_their_own(
    push_node: RunningServer, providers: Providers
) -> None:
    (_, token), (_, other) = [await new_user(push_node) for _ in range(2)]
    ios = register(
        push_node, token, {"platform": "apns", "appId": "ios", "deviceToken": "cd" * 32}
    ).json()
    voip = register(
        push_node,
        token,
        {"platform": "apns-voip", "appId": "ios", "deviceToken": "ef" * 32},
    ).json()
    android = register(
        push_node,
        token,
        {"platform": "fcm", "appId": "android", "deviceToken": "fcm:" + "x" * 40},
    ).json()
    windows = register(
        push_node,
        token,
        {"platform": "wns", "appId": "win", "deviceToken": providers.wns_channel()},
    ).json()

    mine = call(push_node, "GET", token).json()["value"]
    theirs = call(push_node, "GET", other).json()["value"]
    peek = call(push_node, "GET", other, f"/{ios['id']}")

    assert [r["id"] for r in mine] == [
        ios["id"], voip["id"], android["id"], windows["id"]
    ]  # fmt: skip
    assert {r["platform"] for r in mine} == {"apns", "apns-voip", "fcm", "wns"}
    assert theirs == []
    assert _error(peek) == (404, "NotFound", "registrationId")


async def test_refresh_extends_the_expiry_and_replaces_the_token(
    push_node: RunningServer,
) -> None:
    _, token = await new_user(push_node)
    made = register(
        push_node, token, {"platform": "apns", "appId": "ios", "deviceToken": "12" * 32}
    ).json()
    later = _iso(datetime.now(UTC) + timedelta(days=90))

    refreshed = call(
        push_node,
        "PATCH",
        token,
        f"/{made['id']}",
        {"expiresOn": later, "deviceToken": "34" * 32},
    )

    assert refreshed.status_code == 200
    assert refreshed.json()["expiresOn"] == later
    assert refreshed.json()["deviceToken"] == "34" * 32
    assert call(push_node, "GET", token, f"/{made['id']}").json() == refreshed.json()


async def test_a_removed_registration_is_gone(push_node: RunningServer) -> None:
    _, token = await new_user(push_node)
    made = register(
        push_node, token, {"platform": "apns", "appId": "ios", "deviceToken": "56" * 32}
    ).json()

    removed = call(push_node, "DELETE", token, f"/{made['id']}")
    again = call(push_node, "DELETE", token, f"/{made['id']}")

    assert removed.status_code == 204
    assert _error(again) == (404, "NotFound", "registrationId")
    assert call(push_node, "GET", token).json()["value"] == []


async def test_a_device_registered_by_another_user_moves_to_them(
    push_node: RunningServer,
) -> None:
    (_, first), (_, second) = [await new_user(push_node) for _ in range(2)]
    body = {"platform": "apns", "appId": "ios", "deviceToken": "78" * 32}

    register(push_node, first, body)
    moved = register(push_node, second, body)

    assert moved.status_code == 201
    assert call(push_node, "GET", first).json()["value"] == []
    assert len(call(push_node, "GET", second).json()["value"]) == 1


async def test_bad_registrations_are_refused_with_the_field_named(
    push_node: RunningServer, providers: Providers
) -> None:
    _, token = await new_user(push_node)
    _, good = providers.web_push_subscription()
    keys = good["keys"]
    assert isinstance(keys, dict)
    short_auth = {**good, "keys": {**keys, "auth": b64url(b"x" * 8)}}
    not_a_point = {**good, "keys": {**keys, "p256dh": b64url(b"\x04" + b"\x01" * 64)}}
    compressed = {
        **good,
        "keys": {**keys, "p256dh": b64url(unb64url(keys["p256dh"])[:33])},
    }
    plain_http = {**good, "endpoint": "http://localhost/wp/1"}
    metadata = {**good, "endpoint": "https://169.254.169.254/wp/1"}
    past = _iso(datetime.now(UTC) - timedelta(minutes=1))
    far = _iso(datetime.now(UTC) + timedelta(days=400))
    cases = [
        ({"platform": "apns", "appId": "ios", "deviceToken": "xyz"}, "deviceToken"),
        ({"platform": "apns", "appId": "ios", "deviceToken": "abc"}, "deviceToken"),
        ({"platform": "fcm", "appId": "a", "deviceToken": "bad token!"}, "deviceToken"),
        (
            {"platform": "wns", "appId": "w", "deviceToken": "https://evil.test/x"},
            "deviceToken",
        ),
        ({"platform": "webpush", "appId": "w", "deviceToken": "x"}, "subscription"),
        ({"platform": "apns", "appId": "ios", "subscription": good}, "deviceToken"),
        ({"platform": "webpush", "appId": "w", "subscription": short_auth},
         "subscription.keys.auth"),
        ({"platform": "webpush", "appId": "w", "subscription": not_a_point},
         "subscription.keys.p256dh"),
        ({"platform": "webpush", "appId": "w", "subscription": compressed},
         "subscription.keys.p256dh"),
        ({"platform": "webpush", "appId": "w", "subscription": plain_http},
         "subscription.endpoint"),
        ({"platform": "webpush", "appId": "w", "subscription": metadata},
         "subscription.endpoint"),
        ({"platform": "apns", "appId": "", "deviceToken": APNS_TOKEN}, "appId"),
        ({"platform": "apns", "appId": "i", "deviceToken": APNS_TOKEN,
          "expiresOn": past}, "expiresOn"),
        ({"platform": "apns", "appId": "i", "deviceToken": APNS_TOKEN,
          "expiresOn": far}, "expiresOn"),
        ({"platform": "apns", "appId": "i", "deviceToken": APNS_TOKEN,
          "expiresOn": "tomorrow"}, "expiresOn"),
        ({"platform": "gcm", "appId": "a", "deviceToken": "x" * 20}, "platform"),
        ({"platform": "fcm", "appId": "a", "deviceToken": "x" * 20, "extra": 1},
         "extra"),
    ]  # fmt: skip

    answers = [(register(push_node, token, body), target) for body, target in cases]

    for answer, target in answers:
        status, code, where = _error(answer)
        assert (status, code, where) == (400, "InvalidRequestBody", target), (
            answer.json()
        )
    assert call(push_node, "GET", token).json()["value"] == []


async def test_requests_need_a_token_and_an_api_version(
    push_node: RunningServer,
) -> None:
    _, token = await new_user(push_node)
    url = f"{push_node.http_endpoint}{REGISTRATIONS}"

    anonymous = httpx.get(f"{url}?{API}")
    unversioned = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    unknown = httpx.get(
        f"{url}?api-version=2020-01-01", headers={"Authorization": f"Bearer {token}"}
    )

    assert _error(anonymous)[:2] == (401, "Unauthorized")
    assert _error(unversioned) == (400, "MissingApiVersionParameter", "api-version")
    assert _error(unknown) == (400, "InvalidApiVersion", "api-version")


async def test_a_user_may_register_only_so_many_devices(
    push_node: RunningServer,
) -> None:
    _, token = await new_user(push_node)
    answers = [
        register(
            push_node,
            token,
            {
                "platform": "fcm",
                "appId": "a",
                "deviceToken": f"limit-{i:04d}-" + "t" * 20,
            },
        )
        for i in range(21)
    ]

    assert [a.status_code for a in answers] == [201] * 20 + [409]
    assert answers[-1].json()["error"]["code"] == "Conflict"


async def test_registrations_are_deleted_with_their_user(
    push_node: RunningServer,
) -> None:
    user, token = await new_user(push_node)
    made = register(
        push_node, token, {"platform": "apns", "appId": "ios", "deviceToken": "9a" * 32}
    ).json()

    await delete(push_node, user)

    database = push_node.data_dir / "switchboard.db"
    deadline = time.monotonic() + 30
    while True:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT id FROM push_registrations WHERE user_id = ?", (user,)
            ).fetchall()
        if not rows:
            break
        assert time.monotonic() < deadline, f"{made['id']} outlived its user"
        time.sleep(0.05)


def test_the_vapid_public_key_is_served_without_a_token(
    push_node: RunningServer,
) -> None:
    answer = httpx.get(
        f"{push_node.http_endpoint}/switchboard/v1/push/webpush/vapidPublicKey?{API}"
    )

    key = unb64url(answer.json()["publicKey"])
    assert answer.status_code == 200
    assert len(key) == 65 and key[0] == 4
