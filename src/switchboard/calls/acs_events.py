"""Calling events for webhooks, with the ACS Event Grid type names and data shapes.

ACS publishes `IncomingCall` per callee and `CallStarted`, `CallEnded`,
`CallParticipantAdded` and `CallParticipantRemoved` per call (the "voice and
video calling events" of Azure Communication Services as an Event Grid source).
`serverCallId` and `correlationId` are the call id here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from switchboard.calls.model import Call, CallKind, Participant
from switchboard.chat.wire import identifier_json
from switchboard.events.model import PREFIX, Event

INCOMING_CALL = PREFIX + "IncomingCall"
CALL_STARTED = PREFIX + "CallStarted"
CALL_ENDED = PREFIX + "CallEnded"
PARTICIPANT_ADDED = PREFIX + "CallParticipantAdded"
PARTICIPANT_REMOVED = PREFIX + "CallParticipantRemoved"

ENDPOINT_TYPE = "switchboard"
"""`endpointType`: ACS names the client SDK there; Switchboard has one kind."""


def _user(raw_id: str, role: str) -> dict[str, Any]:
    identifier = identifier_json(raw_id)
    return {
        "rawId": identifier["rawId"],
        "communicationUser": identifier.get("communicationUser", {"id": raw_id}),
        "role": role,
    }


def _call_data(call: Call, started_by_role: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "startedBy": _user(call.created_by, started_by_role),
        "serverCallId": call.id,
    }
    if call.kind is CallKind.GROUP:
        data["group"] = {"id": call.group_id}
    if call.kind is CallKind.ROOM:
        data["room"] = {"id": call.room_id}
    data["isTwoParty"] = call.kind is CallKind.DIRECT
    data["correlationId"] = call.id
    data["isRoomsCall"] = call.kind is CallKind.ROOM
    return data


def incoming_call(call: Call, caller: Participant, callee: str) -> Event:
    """`IncomingCall` for one callee of a direct call."""
    context = json.dumps({"callId": call.id, "to": callee}, separators=(",", ":"))
    data = {
        "to": identifier_json(callee),
        "from": identifier_json(caller.user),
        "serverCallId": call.id,
        "callerDisplayName": caller.display_name,
        "customContext": {"sipHeaders": {}, "voipHeaders": {}},
        "incomingCallContext": base64.urlsafe_b64encode(context.encode()).decode(),
        "correlationId": call.id,
    }
    return Event(
        INCOMING_CALL,
        f"/caller/{caller.user}/recipient/{callee}",
        data,
        call.created_at,
    )


def call_started(call: Call, started_by_role: str) -> Event:
    """`CallStarted`."""
    return Event(
        CALL_STARTED,
        f"call/{call.id}/startedBy/{call.created_by}",
        _call_data(call, started_by_role),
        call.created_at,
    )


def call_ended(call: Call, started_by_role: str) -> Event:
    """`CallEnded`, with the call's duration in seconds."""
    data = {"durationOfCall": call.duration_s(), **_call_data(call, started_by_role)}
    return Event(CALL_ENDED, f"call/{call.id}", data, call.ended_at or call.created_at)


def _participant_event(
    name: str, call: Call, p: Participant, started_by_role: str, at: float
) -> Event:
    data = {
        "user": _user(p.user, p.role),
        "displayName": p.display_name,
        "participantId": f"{call.id}/{p.user}/{p.session}",
        "endpointType": ENDPOINT_TYPE,
        **_call_data(call, started_by_role),
    }
    return Event(name, f"call/{call.id}/participant/{p.user}", data, at)


def participant_added(
    call: Call, p: Participant, started_by_role: str, at: float
) -> Event:
    """`CallParticipantAdded`: a participant joined the call."""
    return _participant_event(PARTICIPANT_ADDED, call, p, started_by_role, at)


def participant_removed(
    call: Call, p: Participant, started_by_role: str, at: float
) -> Event:
    """`CallParticipantRemoved`: a participant left the call."""
    return _participant_event(PARTICIPANT_REMOVED, call, p, started_by_role, at)
