"""The virtual phone API and page, on a real `switchboard serve`."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, signed

SWITCHBOARD_NUMBER = "+14255550187"
# Safety limit only: the waiting request below ends as soon as the text arrives.
LIMIT_S = 20.0


_USED: set[int] = set()


def handset() -> str:
    """A handset number no test here used yet, in a range kept for drama (Ofcom,
    Leeds); those ending in 96 to 99 are the network's test numbers."""
    while True:
        n = uuid.uuid4().int % 1000
        if n % 100 < 96 and n not in _USED:
            _USED.add(n)
            return f"+441134960{n:03d}"


def api(
    server: RunningServer, method: str, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.http_endpoint}/virtual-phone/api{path}",
        json=body,
        headers=headers,
        timeout=10,
    )


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def test_the_network_lists_its_switchboard_numbers(server: RunningServer) -> None:
    response = api(server, "GET", "/numbers")

    assert response.status_code == 200
    blocks = response.json()["value"]
    assert blocks[0] == {
        "countryCode": "US",
        "numberType": "geographic",
        "first": "+14255550100",
        "count": 100,
        "areaCode": "425",
        "locality": "Redmond",
        "sms": "inbound+outbound",
        "calling": "inbound+outbound",
        "monthlyCost": 1.0,
        "currency": "USD",
    }
    assert [(b["countryCode"], b["numberType"], b["first"]) for b in blocks] == [
        ("US", "geographic", "+14255550100"),
        ("US", "geographic", "+12065550100"),
        ("US", "tollFree", "+18005550100"),
        ("GB", "geographic", "+442079460000"),
        ("GB", "mobile", "+447700900000"),
    ]


def test_a_handset_is_added_once(server: RunningServer) -> None:
    number = handset()

    first = api(server, "POST", "/handsets", {"number": number})
    again = api(server, "POST", "/handsets", {"number": number})
    listed = api(server, "GET", "/handsets")
    one = api(server, "GET", f"/handsets/{number}")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == number
    assert again.json() == first.json()
    assert number in [h["number"] for h in listed.json()["value"]]
    assert one.status_code == 200
    assert (one.json()["number"], one.json()["messages"]) == (number, [])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"number": "0113 496 0000"},
            (400, "BadRequest", "'0113 496 0000' is not an E.164 phone number"),
        ),
        (
            {"number": "+18005550100"},
            (400, "BadRequest", "+18005550100 is a Switchboard number, not a handset"),
        ),
        (
            {"number": 441134960000},
            (
                400,
                "InvalidRequestBody",
                "the request body is invalid at number: Input should be a valid string",
            ),
        ),
    ],
)
def test_a_handset_needs_an_e164_number_outside_switchboard(
    server: RunningServer, body: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert error(api(server, "POST", "/handsets", body)) == expected


def test_an_unknown_handset_is_not_found(server: RunningServer) -> None:
    response = api(server, "GET", "/handsets/+441134960000999")

    assert error(response) == (
        404,
        "NotFound",
        "there is no handset +441134960000999",
    )


def test_a_handset_texts_a_switchboard_number(server: RunningServer) -> None:
    number = handset()

    sent = api(
        server,
        "POST",
        f"/handsets/{number}/messages",
        {"to": SWITCHBOARD_NUMBER, "text": "Hi <b>there</b> 👋"},
    )
    conversation = api(server, "GET", f"/handsets/{number}")

    assert sent.status_code == 201
    message = sent.json()
    assert message["id"].startswith("vm-")
    assert {k: message[k] for k in ("handset", "peer", "direction", "text")} == {
        "handset": number,
        "peer": SWITCHBOARD_NUMBER,
        "direction": "fromHandset",
        "text": "Hi <b>there</b> 👋",
    }
    # The network handed it over; whether Switchboard keeps it is its own affair.
    assert (message["status"], message["detail"]) == (
        "received",
        "Switchboard received the message",
    )
    assert message["settledAt"] is not None
    assert [m["id"] for m in conversation.json()["messages"]] == [message["id"]]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"to": "+13125550100", "text": "hi"},
            (
                400,
                "BadRequest",
                "+13125550100 is not a Switchboard number on the virtual network",
            ),
        ),
        (
            {"to": "+442079460017", "text": "hi"},
            (400, "BadRequest", "+442079460017 does not receive SMS"),
        ),
        (
            {"to": SWITCHBOARD_NUMBER, "text": ""},
            (400, "BadRequest", "the text is empty"),
        ),
        (
            {"to": SWITCHBOARD_NUMBER, "text": "é" * 1601},
            (
                400,
                "BadRequest",
                "the text is 1601 characters long; the most a handset sends is 1600",
            ),
        ),
        (
            {"to": SWITCHBOARD_NUMBER},
            (
                400,
                "InvalidRequestBody",
                "the request body is invalid at text: Field required",
            ),
        ),
        (
            {"to": SWITCHBOARD_NUMBER, "text": "hi", "from": "+1"},
            (
                400,
                "InvalidRequestBody",
                "the request body is invalid at from: Extra inputs are not permitted",
            ),
        ),
    ],
)
def test_a_handset_cannot_send_what_the_network_does_not_carry(
    server: RunningServer, body: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    number = handset()

    response = api(server, "POST", f"/handsets/{number}/messages", body)

    assert error(response) == expected
    assert api(server, "GET", f"/handsets/{number}").status_code == 404


async def test_a_waiting_request_answers_when_a_text_arrives(
    server: RunningServer,
) -> None:
    number = handset()
    base = f"{server.http_endpoint}/virtual-phone/api"
    async with httpx.AsyncClient(base_url=base, timeout=LIMIT_S + 5) as client:
        now = await client.get("/conversations")
        mark = now.json()["since"]

        waiting = asyncio.create_task(
            client.get("/conversations", params={"since": mark, "waitSeconds": LIMIT_S})
        )
        await asyncio.sleep(0.2)
        sent = await client.post(
            f"/handsets/{number}/messages",
            json={"to": SWITCHBOARD_NUMBER, "text": "wake up"},
        )
        answer = await asyncio.wait_for(waiting, LIMIT_S)

    assert (now.status_code, sent.status_code, answer.status_code) == (200, 201, 200)
    assert answer.json()["since"] != mark
    phones = {h["number"]: h for h in answer.json()["handsets"]}
    assert [m["text"] for m in phones[number]["messages"]] == ["wake up"]


def test_a_mark_from_elsewhere_is_answered_at_once(server: RunningServer) -> None:
    response = api(server, "GET", "/conversations?since=0000.7&waitSeconds=30")

    assert response.status_code == 200
    assert set(response.json()) == {"since", "handsets"}


def test_a_wait_longer_than_thirty_seconds_is_refused(server: RunningServer) -> None:
    response = api(server, "GET", "/conversations?since=x.1&waitSeconds=31")

    assert error(response) == (
        400,
        "BadRequest",
        "query.waitSeconds: Input should be less than or equal to 30",
    )


def test_the_page_and_its_files_are_served(server: RunningServer) -> None:
    base = f"{server.http_endpoint}/virtual-phone"

    page = httpx.get(base)
    script = httpx.get(f"{base}/main.js")
    style = httpx.get(f"{base}/style.css")
    other = httpx.get(f"{base}/index.html")

    assert (page.status_code, page.headers["content-type"]) == (
        200,
        "text/html; charset=utf-8",
    )
    assert '<script type="module" src="/virtual-phone/main.js"></script>' in page.text
    assert (script.status_code, script.headers["content-type"]) == (
        200,
        "text/javascript; charset=utf-8",
    )
    assert (style.status_code, style.headers["content-type"]) == (
        200,
        "text/css; charset=utf-8",
    )
    assert error(other) == (404, "NotFound", "no such file: /virtual-phone/index.html")


# A loopback proxy that names the real client in X-Forwarded-For, as uvicorn
# trusts from 127.0.0.1, makes the request come from away.
AWAY = {"X-Forwarded-For": "203.0.113.7"}


def test_away_from_loopback_the_api_wants_a_signature(server: RunningServer) -> None:
    unsigned = api(server, "GET", "/handsets", **AWAY)
    body = json.dumps({"number": handset()}).encode()
    signed_post = signed(
        server, "POST", "/virtual-phone/api/handsets", body, headers=AWAY
    )
    badly_signed = signed(
        server,
        "GET",
        "/virtual-phone/api/handsets",
        key="c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBrZXk=",
        headers=AWAY,
    )

    assert error(unsigned) == (
        401,
        "Unauthorized",
        "HMAC authentication failed: the request has no Authorization header",
    )
    assert signed_post.status_code == 201
    assert badly_signed.status_code == 401


def test_away_from_loopback_the_page_is_forbidden(server: RunningServer) -> None:
    response = httpx.get(f"{server.http_endpoint}/virtual-phone", headers=AWAY)

    assert error(response) == (
        403,
        "Forbidden",
        "the virtual phone page is served to loopback clients only; set "
        "telephony.virtual_phone_access to anyone to open it",
    )


def test_the_page_can_be_opened_to_anyone(server_factory: Any) -> None:
    node = server_factory.start(
        env={"SWITCHBOARD_TELEPHONY_VIRTUAL_PHONE_ACCESS": "anyone"}
    )

    page = httpx.get(f"{node.http_endpoint}/virtual-phone", headers=AWAY)
    added = api(node, "POST", "/handsets", {"number": handset()}, **AWAY)

    assert (page.status_code, added.status_code) == (200, 201)


def test_with_the_network_off_there_is_no_virtual_phone(server_factory: Any) -> None:
    node = server_factory.start(env={"SWITCHBOARD_TELEPHONY_VIRTUAL_CARRIER": "false"})

    page = httpx.get(f"{node.http_endpoint}/virtual-phone")
    listed = api(node, "GET", "/handsets")

    expected = (404, "NotFound", "the virtual phone network is off on this node")
    assert error(page) == expected
    assert error(listed) == expected
