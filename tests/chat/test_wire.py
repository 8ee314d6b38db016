"""The chat wire codec on its own: identifiers, times, participants."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.chat.wire import (
    identifier_json,
    parse_identifier,
    parse_participants,
    parse_time,
)
from switchboard.core.errors import AcsError

USER = "8:acs:00000000-0000-0000-0000-000000000000_11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        ({"rawId": USER, "communicationUser": {"id": USER}}, USER),
        ({"communicationUser": {"id": USER}}, USER),
        ({"rawId": USER}, USER),
        ({"phoneNumber": {"value": "+15551234567"}}, "4:+15551234567"),
        ({"microsoftTeamsUser": {"userId": "u", "cloud": "gcch"}}, "8:gcch:u"),
        ({"microsoftTeamsApp": {"appId": "a"}}, "28:orgid:a"),
    ],
)
def test_parse_identifier(model: dict[str, Any], raw: str) -> None:
    assert parse_identifier(model, "id") == raw


@pytest.mark.parametrize(
    "model",
    [
        None,
        [],
        {},
        {"rawId": 5},
        {"communicationUser": {}},
        {"rawId": "a", "communicationUser": {"id": "b"}},
    ],
)
def test_malformed_identifiers(model: Any) -> None:
    with pytest.raises(AcsError) as caught:
        parse_identifier(model, "id")
    assert caught.value.status == 400


def test_identifier_json_for_each_kind() -> None:
    assert identifier_json(USER) == {
        "kind": "communicationUser",
        "rawId": USER,
        "communicationUser": {"id": USER},
    }
    assert identifier_json("4:+1555")["phoneNumber"] == {"value": "+1555"}
    assert identifier_json("8:orgid:u")["microsoftTeamsUser"] == {
        "userId": "u",
        "cloud": "public",
    }
    assert identifier_json("x") == {"kind": "unknown", "rawId": "x"}


def test_times_and_participants() -> None:
    assert parse_time("1970-01-01T00:00:01.5Z", "t") == 1.5
    assert parse_time("1970-01-01T01:00:00+01:00", "t") == 0.0
    participants = parse_participants(
        [
            {
                "communicationIdentifier": {"rawId": USER},
                "displayName": "U",
                "shareHistoryTime": "1970-01-01T00:00:10.000Z",
            }
        ],
        "participants",
    )
    assert [(p.user_id, p.display_name, p.share_history_at) for p in participants] == [
        (USER, "U", 10.0)
    ]
    with pytest.raises(AcsError) as caught:
        parse_participants(
            [{"communicationIdentifier": {"rawId": USER}, "displayName": 3}], "p"
        )
    assert caught.value.target == "p[0].displayName"
