"""The official azure-communication-rooms 1.2.0 client, sync, against a real node."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)
from azure.communication.rooms import ParticipantRole, RoomParticipant, RoomsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport

from tests.conftest import RunningServer
from tests.rooms.conftest import unknown_user

MALFORMED = "The request could not be understood by the server due to malformed syntax."


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _user(identity: CommunicationIdentityClient) -> CommunicationUserIdentifier:
    return identity.create_user()


def _as(user: CommunicationUserIdentifier, role: str) -> RoomParticipant:
    return RoomParticipant(communication_identifier=user, role=role)


def _roles(rooms: RoomsClient, room_id: str) -> dict[str, str]:
    return {
        p.communication_identifier.raw_id: str(p.role)
        for p in rooms.list_participants(room_id)
    }


def _bad_argument(error: HttpResponseError) -> dict[str, Any]:
    assert error.status_code == 400
    assert error.response is not None
    assert error.response.headers["x-ms-error-code"] == "BadRequest"
    body = error.response.json()["error"]
    assert body["code"] == "BadRequest"
    assert body["message"] == MALFORMED
    assert len(body["details"]) == 1
    detail: dict[str, Any] = body["details"][0]
    assert detail["code"] == "BadArgument"
    return detail


# Rooms


def test_create_without_attributes_uses_acs_defaults(rooms: RoomsClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    room = rooms.create_room()
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert room.id.isdigit() and len(room.id) == 17
    assert before <= _when(room.created_at) <= after
    assert _when(room.valid_from) == _when(room.created_at)
    assert _when(room.valid_until) - _when(room.valid_from) == timedelta(days=180)
    assert room.pstn_dial_out_enabled is False
    assert list(rooms.list_participants(room.id)) == []


def test_create_with_every_attribute_and_read_it_back(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    start, end = _now() + timedelta(days=1), _now() + timedelta(days=30)
    users = [_user(identity) for _ in range(4)]
    roles = ["Presenter", "Attendee", "Consumer", "Collaborator"]
    room = rooms.create_room(
        valid_from=start,
        valid_until=end,
        pstn_dial_out_enabled=True,
        participants=[_as(u, r) for u, r in zip(users, roles, strict=True)],
    )

    assert (_when(room.valid_from), _when(room.valid_until)) == (start, end)
    assert room.pstn_dial_out_enabled is True
    fetched = rooms.get_room(room.id)
    assert vars(fetched) == vars(room)
    expected = {u.raw_id: r for u, r in zip(users, roles, strict=True)}
    assert _roles(rooms, room.id) == expected


def test_participant_without_a_role_is_an_attendee(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    user = _user(identity)
    room = rooms.create_room(
        participants=[RoomParticipant(communication_identifier=user)]
    )
    assert _roles(rooms, room.id) == {user.raw_id: "Attendee"}


class _SendsPostsTwice(RequestsTransport):
    """A transport that sends each POST twice, as after a lost first answer."""

    first: Any = None

    def send(self, request: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            self.first = super().send(request, **kwargs)
        return super().send(request, **kwargs)


def test_a_repeated_create_gets_the_same_room(
    server: RunningServer, rooms: RoomsClient
) -> None:
    transport = _SendsPostsTwice()
    client = RoomsClient.from_connection_string(
        server.connection_string, transport=transport
    )
    room = client.create_room(pstn_dial_out_enabled=True)

    first = transport.first
    assert first.status_code == 201
    assert json.loads(first.text()) == {
        "id": room.id,
        "createdAt": room.created_at,
        "validFrom": room.valid_from,
        "validUntil": room.valid_until,
        "pstnDialOutEnabled": True,
    }
    assert first.headers["Repeatability-Result"] == "accepted"
    listed = [r.id for r in rooms.list_rooms()]
    assert listed.count(room.id) == 1


def test_get_a_room_that_does_not_exist(rooms: RoomsClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        rooms.get_room("12345678901234567")
    assert caught.value.error is not None
    assert caught.value.error.code == "NotFound"
    assert (
        caught.value.error.message == "The server cannot find the requested resource."
    )


@pytest.mark.parametrize("room_id", ["123", "invalid_id"])
def test_room_ids_of_the_wrong_length_are_refused(
    rooms: RoomsClient, room_id: str
) -> None:
    for call in (rooms.get_room, rooms.delete_room):
        with pytest.raises(HttpResponseError) as caught:
            call(room_id)
        assert caught.value.status_code == 400
        assert caught.value.error is not None
        assert caught.value.error.code == "BadRequest"
        assert caught.value.error.message == "Invalid room ID length."


def test_update_changes_only_what_is_given(rooms: RoomsClient) -> None:
    room = rooms.create_room()
    end = _now() + timedelta(days=7)

    # The SDK sends null for validFrom and pstnDialOutEnabled here.
    updated = rooms.update_room(room_id=room.id, valid_until=end)
    assert _when(updated.valid_until) == end
    assert updated.valid_from == room.valid_from
    assert updated.pstn_dial_out_enabled is False
    assert updated.created_at == room.created_at

    flagged = rooms.update_room(room_id=room.id, pstn_dial_out_enabled=True)
    assert flagged.pstn_dial_out_enabled is True
    assert flagged.valid_until == updated.valid_until

    nothing = rooms.update_room(room_id=room.id)
    assert vars(nothing) == vars(flagged)
    assert vars(rooms.get_room(room.id)) == vars(flagged)


def test_update_of_a_deleted_room_is_not_found(rooms: RoomsClient) -> None:
    room = rooms.create_room()
    rooms.delete_room(room.id)
    with pytest.raises(ResourceNotFoundError):
        rooms.update_room(room_id=room.id, pstn_dial_out_enabled=True)
    with pytest.raises(ResourceNotFoundError):
        rooms.get_room(room.id)
    with pytest.raises(ResourceNotFoundError):
        list(rooms.list_participants(room.id))
    # Deleting again is not an error, as with ACS.
    rooms.delete_room(room.id)


def test_a_window_longer_than_180_days_is_refused(rooms: RoomsClient) -> None:
    room = rooms.create_room()
    start = _now() + timedelta(days=3)
    with pytest.raises(HttpResponseError) as caught:
        rooms.update_room(
            room_id=room.id, valid_from=start, valid_until=start + timedelta(days=181)
        )
    assert _bad_argument(caught.value) == {
        "code": "BadArgument",
        "message": "The time range is incorrect, or larger than 180 days.",
        "target": "ValidUntil",
    }
    with pytest.raises(HttpResponseError) as caught:
        rooms.create_room(valid_until=_now() + timedelta(days=200))
    assert _bad_argument(caught.value)["target"] == "ValidUntil"


def test_an_end_before_the_start_is_refused(rooms: RoomsClient) -> None:
    start = _now() + timedelta(days=3)
    with pytest.raises(HttpResponseError) as caught:
        rooms.create_room(valid_from=start, valid_until=start - timedelta(days=1))
    assert _bad_argument(caught.value)["message"] == (
        "The time range is incorrect, or larger than 180 days."
    )


def test_an_end_in_the_past_is_refused(rooms: RoomsClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        rooms.create_room(valid_until=_now() - timedelta(minutes=5))
    assert _bad_argument(caught.value) == {
        "code": "BadArgument",
        "message": "The time range end is in the past.",
        "target": "ValidUntil",
    }


def test_a_start_more_than_180_days_ahead_is_refused(rooms: RoomsClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        rooms.create_room(valid_from=_now() + timedelta(days=210))
    assert _bad_argument(caught.value) == {
        "code": "BadArgument",
        "message": "Value is incorrect or more than 180 days in the future.",
        "target": "ValidFrom",
    }


def test_list_rooms_pages_newest_first(rooms: RoomsClient) -> None:
    made = [rooms.create_room().id for _ in range(3)]
    pages = [
        [room.id for room in page]
        for page in rooms.list_rooms(params={"maxPageSize": 2}).by_page()
    ]
    assert len(pages[0]) == 2 and all(1 <= len(p) <= 2 for p in pages)
    listed = [room_id for page in pages for room_id in page]
    assert listed[:3] == made[::-1]
    assert len(listed) == len(set(listed))
    assert listed == [room.id for room in rooms.list_rooms()]


# Participants


def test_add_change_and_remove_participants(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    ada, bob, cy = (_user(identity) for _ in range(3))
    room = rooms.create_room(participants=[_as(ada, "Presenter")])

    rooms.add_or_update_participants(
        room_id=room.id,
        participants=[_as(bob, ParticipantRole.ATTENDEE), _as(cy, "Consumer")],
    )
    assert _roles(rooms, room.id) == {
        ada.raw_id: "Presenter",
        bob.raw_id: "Attendee",
        cy.raw_id: "Consumer",
    }

    rooms.add_or_update_participants(
        room_id=room.id, participants=[_as(bob, "Collaborator")]
    )
    # Removing someone who is not in the room is not an error.
    stranger = _user(identity)
    rooms.remove_participants(room_id=room.id, participants=[ada, stranger])
    assert _roles(rooms, room.id) == {bob.raw_id: "Collaborator", cy.raw_id: "Consumer"}


def test_list_participants_pages_by_raw_id(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    users = [_user(identity) for _ in range(5)]
    room = rooms.create_room(participants=[_as(u, "Attendee") for u in users])
    pages = [
        [p.communication_identifier.raw_id for p in page]
        for page in rooms.list_participants(
            room.id, params={"maxPageSize": 2}
        ).by_page()
    ]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [raw for page in pages for raw in page] == sorted(u.raw_id for u in users)


def test_an_unknown_role_is_refused(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    user = _user(identity)
    room = rooms.create_room()
    with pytest.raises(HttpResponseError) as caught:
        rooms.add_or_update_participants(
            room_id=room.id, participants=[_as(user, "Kafka")]
        )
    assert _bad_argument(caught.value) == {
        "code": "BadArgument",
        "message": "'Kafka' is not a role; roles are Presenter, Attendee, Consumer, "
        "Collaborator.",
        "target": f"$.participants.{user.raw_id}.role",
    }
    assert _roles(rooms, room.id) == {}


def test_a_malformed_participant_id_is_refused(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    good = _user(identity)
    wrong = CommunicationUserIdentifier("wrong_mri")
    with pytest.raises(HttpResponseError) as caught:
        rooms.create_room(participants=[_as(wrong, "Attendee"), _as(good, "Presenter")])
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.message == "Invalid format for communication identifier."

    room = rooms.create_room()
    with pytest.raises(HttpResponseError) as caught:
        rooms.add_or_update_participants(
            room_id=room.id,
            participants=[_as(wrong, "Attendee"), _as(good, "Presenter")],
        )
    assert caught.value.error is not None
    assert caught.value.error.code == "BadRequest"
    assert caught.value.error.message == "Invalid value for the Participants."
    assert _roles(rooms, room.id) == {}


def test_participants_must_be_users_of_this_resource(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    good = _user(identity)
    missing = unknown_user(good.raw_id)
    foreign = f"8:acs:{uuid.uuid4()}_{uuid.uuid4()}"
    room = rooms.create_room()
    with pytest.raises(HttpResponseError) as caught:
        rooms.add_or_update_participants(
            room_id=room.id,
            participants=[
                _as(good, "Attendee"),
                _as(CommunicationUserIdentifier(missing), "Attendee"),
                _as(CommunicationUserIdentifier(foreign), "Presenter"),
            ],
        )
    assert caught.value.status_code == 400
    assert caught.value.response is not None
    body = caught.value.response.json()["error"]
    assert body["code"] == "BadRequest"
    assert body["message"] == "Invalid value for the Participants."
    assert sorted(body["details"], key=lambda d: d["target"] != foreign) == [
        {
            "code": "BadArgument",
            "message": "the user belongs to another resource",
            "target": foreign,
        },
        {
            "code": "BadArgument",
            "message": "the user does not exist",
            "target": missing,
        },
    ]
    assert _roles(rooms, room.id) == {}


def test_a_deleted_user_leaves_the_rooms(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    ada, bob = _user(identity), _user(identity)
    room = rooms.create_room(participants=[_as(ada, "Presenter"), _as(bob, "Consumer")])
    identity.delete_user(ada)
    assert _roles(rooms, room.id) == {bob.raw_id: "Consumer"}
    # A deleted user cannot be added back either.
    with pytest.raises(HttpResponseError) as caught:
        rooms.add_or_update_participants(
            room_id=room.id, participants=[_as(ada, "Attendee")]
        )
    assert caught.value.error is not None
    assert caught.value.error.message == "Invalid value for the Participants."


def test_participants_of_a_room_that_does_not_exist(
    rooms: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    with pytest.raises(ResourceNotFoundError):
        rooms.add_or_update_participants(
            room_id="12345678901234567", participants=[_as(_user(identity), "Attendee")]
        )


# Authentication


def test_a_wrong_access_key_is_refused(server: RunningServer) -> None:
    wrong = RoomsClient(server.endpoint, AzureKeyCredential("d3Jvbmcga2V5IQ=="))
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong.create_room()
    assert caught.value.error is not None
    assert caught.value.error.code == "Unauthorized"
    assert caught.value.error.message == (
        "HMAC authentication failed: the signature does not match any access key"
    )
    with pytest.raises(ClientAuthenticationError):
        list(wrong.list_rooms())
