"""The Rooms API's JSON: reading request bodies and writing rooms and participants.

Field names and shapes are those of the Rooms swagger (2025-03-13):
`CreateRoomRequest`, `UpdateRoomRequest`, `UpdateParticipantsRequest`,
`RoomModel` and `RoomParticipant`. Times are RFC 3339 date-times.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switchboard.core.clock import iso8601
from switchboard.core.errors import AcsError, ErrorCode, bad_request
from switchboard.rooms.errors import BAD_PARTICIPANTS, MALFORMED, bad_argument
from switchboard.rooms.roles import DEFAULT_ROLE, Role, parse_role
from switchboard.rooms.store import Room

ROOM_ID_LENGTHS = range(14, 21)
"""Room ids are decimal strings; ACS's are 16 or 17 digits long."""


@dataclass(frozen=True, slots=True)
class RoomFields:
    """The room fields a create or update body gives; None where absent or null."""

    valid_from: float | None
    valid_until: float | None
    pstn_dial_out_enabled: bool | None


def room_json(room: Room) -> dict[str, Any]:
    """A RoomModel: all five keys, always (the SDK reads each one)."""
    return {
        "id": room.id,
        "createdAt": iso8601(room.created_at),
        "validFrom": iso8601(room.valid_from),
        "validUntil": iso8601(room.valid_until),
        "pstnDialOutEnabled": room.pstn_dial_out_enabled,
    }


def participant_json(raw_id: str, role: Role) -> dict[str, Any]:
    """A RoomParticipant."""
    return {"rawId": raw_id, "role": role.value}


def check_room_id(raw: str) -> str:
    """The room id of a path; a 400 worded as ACS words it when it cannot be one."""
    if len(raw) not in ROOM_ID_LENGTHS:
        raise bad_request("Invalid room ID length.")
    if not raw.isascii() or not raw.isdigit():
        raise bad_request("Invalid room ID format.")
    return raw


def body_object(data: Any) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad_request(MALFORMED, code=ErrorCode.BAD_REQUEST)
    return data


def body_hash(data: dict[str, Any]) -> str:
    """A hash of what a body asks, the same for the same JSON however written."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _time(data: dict[str, Any], key: str, target: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    raise bad_argument(target, f"{value!r} is not an RFC 3339 date-time.")


def room_fields(data: dict[str, Any]) -> RoomFields:
    """validFrom, validUntil and pstnDialOutEnabled of a create or update body."""
    flag = data.get("pstnDialOutEnabled")
    if flag is not None and not isinstance(flag, bool):
        raise bad_argument("PstnDialOutEnabled", f"{flag!r} is not a boolean.")
    return RoomFields(
        valid_from=_time(data, "validFrom", "ValidFrom"),
        valid_until=_time(data, "validUntil", "ValidUntil"),
        pstn_dial_out_enabled=flag,
    )


def participant_changes(data: dict[str, Any]) -> dict[str, Role | None]:
    """The `participants` map: raw id to role, or None (JSON null) to remove.

    RFC 7396 (JSON merge patch) §2: a null member removes that member; an
    object member merges, and its `role` defaults to Attendee.
    """
    participants = data.get("participants")
    if participants is None:
        return {}
    if not isinstance(participants, dict):
        raise bad_argument("participants", "participants must be a JSON object.")
    changes: dict[str, Role | None] = {}
    for raw, value in participants.items():
        if not raw:
            raise bad_request(BAD_PARTICIPANTS)
        if value is None:
            changes[raw] = None
            continue
        target = f"$.participants.{raw}.role"
        if not isinstance(value, dict):
            raise bad_argument(
                f"$.participants.{raw}", "A participant must be an object."
            )
        name = value.get("role")
        if name is None:
            changes[raw] = DEFAULT_ROLE
            continue
        role = parse_role(name) if isinstance(name, str) else None
        if role is None:
            allowed = ", ".join(r.value for r in Role)
            raise bad_argument(target, f"{name!r} is not a role; roles are {allowed}.")
        changes[raw] = role
    return changes


def error_code_header(error: AcsError) -> None:
    """Add `x-ms-error-code`, which the Rooms swagger puts on every error."""
    error.headers.setdefault("x-ms-error-code", error.code)
