"""The Rooms API's exact wire shapes, by raw HMAC-signed HTTP."""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import RunningServer, signed

V = "api-version=2025-03-13"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MALFORMED = "The request could not be understood by the server due to malformed syntax."


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _create(
    server: RunningServer, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return signed(server, "POST", f"/rooms?{V}", _json(body), headers=headers)


def _repeat(request_id: str) -> dict[str, str]:
    return {
        "Repeatability-Request-ID": request_id,
        "Repeatability-First-Sent": formatdate(usegmt=True),
    }


def _user(server: RunningServer) -> str:
    answer = signed(server, "POST", "/identities?api-version=2023-10-01", b"{}")
    assert answer.status_code == 201
    raw: str = answer.json()["identity"]["id"]
    return raw


def test_room_model_has_exactly_the_five_keys(server: RunningServer) -> None:
    answer = _create(server, {"pstnDialOutEnabled": True})
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    room = answer.json()
    assert set(room) == {
        "id",
        "createdAt",
        "validFrom",
        "validUntil",
        "pstnDialOutEnabled",
    }
    assert answer.headers["Location"] == room["id"]
    assert "Repeatability-Result" not in answer.headers
    for key in ("createdAt", "validFrom", "validUntil"):
        assert ISO.match(room[key]), room[key]
    assert room["pstnDialOutEnabled"] is True

    fetched = signed(server, "GET", f"/rooms/{room['id']}?{V}")
    assert fetched.status_code == 200
    assert fetched.json() == room


def test_times_are_read_in_any_offset_and_written_in_utc(server: RunningServer) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    east = timezone(timedelta(hours=2))
    answer = _create(
        server,
        {
            "validFrom": start.astimezone(east).isoformat(),
            "validUntil": (start + timedelta(days=1)).strftime(
                "%Y-%m-%dT%H:%M:%S.250Z"
            ),
        },
    )
    assert answer.status_code == 201
    room = answer.json()
    assert room["validFrom"] == start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert room["validUntil"] == (start + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.250Z"
    )


def test_the_same_request_id_and_body_give_the_same_room(server: RunningServer) -> None:
    user = _user(server)
    body = {"participants": {user: {"role": "Presenter"}}, "pstnDialOutEnabled": False}
    request_id = str(uuid.uuid4())
    first = _create(server, body, **_repeat(request_id))
    again = _create(server, body, **_repeat(request_id))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.headers["Repeatability-Result"] == "accepted"
    assert again.headers["Repeatability-Result"] == "accepted"

    # The same body with a new id is a new room.
    other = _create(server, body, **_repeat(str(uuid.uuid4())))
    assert other.json()["id"] != first.json()["id"]


def test_simultaneous_repeats_make_one_room(server: RunningServer) -> None:
    headers = _repeat(str(uuid.uuid4()))
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _create(server, {}, **headers), range(6)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1


def test_the_same_request_id_with_another_body_is_a_conflict(
    server: RunningServer,
) -> None:
    request_id = str(uuid.uuid4())
    assert _create(server, {}, **_repeat(request_id)).status_code == 201
    answer = _create(server, {"pstnDialOutEnabled": True}, **_repeat(request_id))
    assert answer.status_code == 409
    assert answer.headers["Repeatability-Result"] == "rejected"
    assert answer.headers["x-ms-error-code"] == "Conflict"
    assert answer.json() == {
        "error": {
            "code": "Conflict",
            "message": "the Repeatability-Request-ID was already used for a "
            "different request",
            "target": "Repeatability-Request-ID",
        }
    }


def test_a_request_id_without_first_sent_is_refused(server: RunningServer) -> None:
    answer = _create(server, {}, **{"Repeatability-Request-ID": str(uuid.uuid4())})
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "BadRequest",
        "message": (
            "Repeatability-First-Sent must be given with Repeatability-Request-ID"
        ),
        "target": "Repeatability-First-Sent",
    }


def test_list_shapes_and_next_link(server: RunningServer) -> None:
    for _ in range(2):
        assert _create(server, {}).status_code == 201
    page = signed(server, "GET", f"/rooms?maxPageSize=1&{V}")
    assert page.status_code == 200
    body = page.json()
    assert set(body) == {"value", "nextLink"}
    assert len(body["value"]) == 1
    link = urlsplit(body["nextLink"])
    assert (link.scheme, link.netloc, link.path) == (
        "https",
        f"localhost:{server.https_port}",
        "/rooms",
    )
    query = parse_qs(link.query)
    assert query["maxPageSize"] == ["1"] and query["api-version"] == ["2025-03-13"]

    # The SDK sends the next page with str() of its ApiVersion enum.
    token = query["continuationToken"][0]
    path = f"/rooms?maxPageSize=1&continuationToken={token}"
    following = signed(server, "GET", path + "&api-version=ApiVersion.V2025_03_13")
    assert following.status_code == 200
    assert following.json()["value"][0]["id"] != body["value"][0]["id"]

    broken = signed(server, "GET", f"/rooms?continuationToken=bm90LW91cnM&{V}")
    assert broken.status_code == 400
    assert broken.json()["error"]["target"] == "continuationToken"


def test_participants_patch_and_list_shapes(server: RunningServer) -> None:
    ada, bob = _user(server), _user(server)
    room = _create(server, {"participants": {ada: {"role": "Presenter"}}}).json()
    path = f"/rooms/{room['id']}/participants?{V}"
    merge = {"Content-Type": "application/merge-patch+json"}

    patched = signed(
        server,
        "PATCH",
        path,
        _json({"participants": {ada: None, bob: {}}}),
        headers=merge,
    )
    assert patched.status_code == 200
    assert patched.json() == {}
    listed = signed(server, "GET", path)
    assert listed.json() == {"value": [{"rawId": bob, "role": "Attendee"}]}

    # An empty patch changes nothing.
    assert signed(server, "PATCH", path, _json({}), headers=merge).json() == {}
    assert signed(server, "GET", path).json() == listed.json()


@pytest.mark.parametrize(
    ("body", "target", "message"),
    [
        (
            {"pstnDialOutEnabled": "yes"},
            "PstnDialOutEnabled",
            "'yes' is not a boolean.",
        ),
        (
            {"validFrom": "tomorrow"},
            "ValidFrom",
            "'tomorrow' is not an RFC 3339 date-time.",
        ),
        ({"validUntil": 5}, "ValidUntil", "5 is not an RFC 3339 date-time."),
    ],
)
def test_fields_of_the_wrong_type_are_bad_arguments(
    server: RunningServer, body: dict[str, Any], target: str, message: str
) -> None:
    answer = _create(server, body)
    assert answer.status_code == 400
    assert answer.headers["x-ms-error-code"] == "BadRequest"
    assert answer.json() == {
        "error": {
            "code": "BadRequest",
            "message": MALFORMED,
            "details": [{"code": "BadArgument", "message": message, "target": target}],
        }
    }


def test_errors_carry_x_ms_error_code(server: RunningServer) -> None:
    missing = signed(server, "GET", f"/rooms/12345678901234567?{V}")
    assert missing.status_code == 404
    assert missing.headers["x-ms-error-code"] == "NotFound"

    unsigned = httpx.get(f"{server.endpoint}/rooms?{V}")
    assert unsigned.status_code == 401
    assert unsigned.headers["x-ms-error-code"] == "Unauthorized"
    assert unsigned.json()["error"]["message"] == (
        "HMAC authentication failed: the request has no Authorization header"
    )

    no_version = signed(server, "GET", "/rooms")
    assert no_version.status_code == 400
    assert no_version.headers["x-ms-error-code"] == "MissingApiVersionParameter"
