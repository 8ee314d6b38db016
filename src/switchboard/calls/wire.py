"""Calls on the wire: the Call and Participant objects of docs/calls.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from switchboard.calls.model import Call, Participant, StreamInfo
from switchboard.core.clock import iso8601


def participant_json(p: Participant) -> dict[str, Any]:
    """A Participant object."""
    return {
        "id": p.user,
        "displayName": p.display_name,
        "state": p.state.value,
        "role": p.role,
        "muted": p.muted,
        "video": p.video,
        "screenSharing": p.screen_sharing,
    }


def stream_json(stream: StreamInfo) -> dict[str, Any]:
    """One entry of a Call's `streams`."""
    return {"feedId": stream.feed_id, "participant": stream.user, "kind": stream.kind}


def _time(ts: float | None) -> str | None:
    return iso8601(ts) if ts is not None else None


def call_json(
    call: Call,
    participants: Iterable[Participant],
    streams: Iterable[StreamInfo] = (),
    ice_servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Call object; `iceServers` only for the requester of a realtime method."""
    body: dict[str, Any] = {
        "callId": call.id,
        "kind": call.kind.value,
        "state": call.state.value,
        "createdBy": call.created_by,
        "createdAt": iso8601(call.created_at),
        "subject": call.subject,
        "video": call.video,
        "groupId": call.group_id,
        "roomId": call.room_id,
        "answeredAt": _time(call.answered_at),
        "endedAt": _time(call.ended_at),
        "endReason": call.end_reason.value if call.end_reason else None,
        "durationS": round(call.duration_s(), 3),
        "participants": [participant_json(p) for p in participants],
        "streams": [stream_json(s) for s in streams],
    }
    if ice_servers is not None:
        body["iceServers"] = ice_servers
    return body
