"""The realtime methods of docs/calls.md: their params checked, then the service.

Each handler reads and checks its params (a 400 naming the param otherwise)
and calls the service; `register` installs them all in the realtime hub for
tokens with a voip scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from switchboard.auth.scopes import VOIP_SCOPES
from switchboard.calls.core import CallEvent
from switchboard.calls.service import CallService, Target
from switchboard.core.errors import bad_request
from switchboard.media.engine import FeedKind
from switchboard.realtime.hub import Caller, RealtimeHub

MAX_SUBJECT = 256
MAX_DISPLAY_NAME = 256
MAX_ID = 128
MAX_SDP = 60_000

Params = dict[str, Any]
Method = Callable[[Caller, Params], Awaitable[dict[str, Any]]]


def _text(params: Params, name: str, limit: int, *, required: bool = False) -> str:
    value = params.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise bad_request(f"{name} must be a non-empty string", target=name)
    if len(value) > limit:
        raise bad_request(f"{name} may be at most {limit} characters", target=name)
    return value


def _flag(params: Params, name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false", target=name)
    return value


def _call_id(params: Params) -> str:
    return _text(params, "callId", MAX_ID, required=True)


def _name(params: Params) -> str:
    return _text(params, "displayName", MAX_DISPLAY_NAME)


def _targets(params: Params) -> list[str]:
    targets = params.get("targets")
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and t for t in targets)
    ):
        raise bad_request(
            "targets must be a non-empty list of user ids", target="targets"
        )
    return list(targets)


def _target(params: Params) -> Target:
    named = [k for k in ("callId", "groupId", "roomId") if params.get(k) is not None]
    if len(named) != 1:
        raise bad_request(
            "call.join takes exactly one of callId, groupId and roomId",
            target="callId",
        )
    key = named[0]
    value = _text(params, key, MAX_ID, required=True)
    if key == "groupId":
        try:
            value = str(uuid.UUID(value))
        except ValueError:
            raise bad_request("groupId must be a UUID", target="groupId") from None
        return Target(group_id=value)
    if key == "roomId":
        return Target(room_id=value)
    return Target(call_id=value)


def _feed_kind(params: Params) -> FeedKind:
    value = params.get("kind", FeedKind.MAIN.value)
    try:
        return FeedKind(value)
    except ValueError:
        raise bad_request("kind must be main or screen", target="kind") from None


def _feed_id(params: Params) -> int:
    value = params.get("feedId")
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("feedId must be an integer", target="feedId")
    return value


def _candidate(params: Params) -> dict[str, Any] | None:
    if "candidate" not in params:
        raise bad_request(
            "candidate is required (null when gathering is complete)",
            target="candidate",
        )
    value = params["candidate"]
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("candidate"), str):
        raise bad_request(
            "candidate must be {candidate, sdpMid, sdpMLineIndex} or null",
            target="candidate",
        )
    mid = value.get("sdpMid")
    index = value.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise bad_request("candidate.sdpMid must be a string", target="candidate")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise bad_request(
            "candidate.sdpMLineIndex must be an integer", target="candidate"
        )
    return {"candidate": value["candidate"], "sdpMid": mid, "sdpMLineIndex": index}


def _changes(params: Params) -> dict[str, bool]:
    changes: dict[str, bool] = {}
    for name in ("muted", "video", "screenSharing"):
        if name in params:
            changes[name] = _flag(params, name, False)
    if not changes:
        raise bad_request(
            "call.update needs at least one of muted, video and screenSharing",
            target="muted",
        )
    return changes


def methods(calls: CallService) -> dict[str, Method]:
    """Every method name with its handler."""

    async def start(c: Caller, p: Params) -> dict[str, Any]:
        targets = _targets(p)
        subject = _text(p, "subject", MAX_SUBJECT)
        video = _flag(p, "video", False)
        return await calls.start(c, targets, subject, video, _name(p))

    async def join(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.join(c, _target(p), _name(p))

    async def accept(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.accept(c, _call_id(p), _name(p))

    async def decline(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.decline(c, _call_id(p))

    async def cancel(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.cancel(c, _call_id(p))

    async def leave(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.leave(c, _call_id(p))

    async def end(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.end(c, _call_id(p))

    async def update(c: Caller, p: Params) -> dict[str, Any]:
        call_id = _call_id(p)
        return await calls.update(c, call_id, _changes(p))

    async def publish(c: Caller, p: Params) -> dict[str, Any]:
        call_id, kind = _call_id(p), _feed_kind(p)
        sdp = _text(p, "sdp", MAX_SDP, required=True)
        return await calls.publish(c, call_id, kind, sdp)

    async def subscribe(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.subscribe(c, _call_id(p), _feed_id(p))

    async def answer(c: Caller, p: Params) -> dict[str, Any]:
        handle = _text(p, "handleId", MAX_ID, required=True)
        return await calls.answer(c, handle, _text(p, "sdp", MAX_SDP, required=True))

    async def trickle(c: Caller, p: Params) -> dict[str, Any]:
        handle = _text(p, "handleId", MAX_ID, required=True)
        return await calls.trickle(c, handle, _candidate(p))

    async def hangup(c: Caller, p: Params) -> dict[str, Any]:
        return await calls.hangup(c, _text(p, "handleId", MAX_ID, required=True))

    return {
        "call.start": start,
        "call.join": join,
        "call.accept": accept,
        "call.decline": decline,
        "call.cancel": cancel,
        "call.leave": leave,
        "call.end": end,
        "call.update": update,
        "media.publish": publish,
        "media.subscribe": subscribe,
        "media.answer": answer,
        "media.trickle": trickle,
        "media.hangup": hangup,
    }


def register(hub: RealtimeHub, calls: CallService) -> None:
    """Answer the call methods, deliver call events to voip tokens, see closes."""
    for name, handler in methods(calls).items():
        hub.handle(name, handler, VOIP_SCOPES)
    hub.register_events(CallEvent.ALL, VOIP_SCOPES)
    hub.on_closed(calls.connection_closed)
    calls.start_listening()
