"""The realtime wire protocol: JSON frames with a `type`, and the close codes.

docs/realtime.md describes every frame; this module is its codec. Client frames
are parsed into small records, server frames are built as dicts and encoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from switchboard.core.clock import iso8601
from switchboard.realtime.eventlog import Entry

PATH = "/switchboard/v1/realtime"
"""Where the gateway listens, on the HTTP and the HTTPS port."""

PROTOCOL_VERSION = 1


class CloseCode(IntEnum):
    """Why the server closed a connection (RFC 6455 §7.4.2: 4000-4999 are ours)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    FRAME_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    PROTOCOL_ERROR = 4000
    UNAUTHORIZED = 4001
    FORBIDDEN = 4002
    AUTH_TIMEOUT = 4003
    TOKEN_EXPIRED = 4004
    TOKEN_REVOKED = 4005
    HEARTBEAT_TIMEOUT = 4006
    SLOW_CONSUMER = 4007


class FrameError(ValueError):
    """A client frame that does not follow the protocol."""


@dataclass(frozen=True, slots=True)
class Auth:
    """`auth`: the first frame; the token and, to resume, the last number seen."""

    token: str
    resume_from: int | None
    stream: str | None = None


@dataclass(frozen=True, slots=True)
class Refresh:
    """`refresh`: a fresh token for the same user, extending the connection."""

    token: str


@dataclass(frozen=True, slots=True)
class Ping:
    """`ping`: the client checks the server is there; answered with `pong`."""

    nonce: str | None


@dataclass(frozen=True, slots=True)
class Pong:
    """`pong`: the answer to the server's `ping`."""


@dataclass(frozen=True, slots=True)
class Request:
    """`request`: a method call answered by one `response` with the same id.

    `problem` is set when the id is usable but the method or params are not: the
    request is answered with a BadRequest error instead of closing the connection.
    """

    id: str
    method: str
    params: dict[str, Any]
    problem: str | None = None


ClientFrame = Auth | Refresh | Ping | Pong | Request

MAX_REQUEST_ID = 64
"""The longest request id a client may choose."""


def _token(frame: dict[str, Any], kind: str) -> str:
    token = frame.get("token")
    if not isinstance(token, str) or not token:
        raise FrameError(f"realtime {kind} frame: token must be a non-empty string")
    return token


def parse_client_frame(text: str) -> ClientFrame:
    """Decode one client frame; FrameError names what is wrong."""
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise FrameError("realtime frame: not JSON") from exc
    if not isinstance(frame, dict):
        raise FrameError("realtime frame: not a JSON object")
    kind = frame.get("type")

    if kind == "auth":
        resume = frame.get("resumeFrom")
        if resume is not None and (
            isinstance(resume, bool) or not isinstance(resume, int) or resume < 0
        ):
            raise FrameError(
                "realtime auth frame: resumeFrom must be a non-negative integer"
            )
        stream = frame.get("stream")
        if stream is not None and not isinstance(stream, str):
            raise FrameError("realtime auth frame: stream must be a string")
        return Auth(_token(frame, "auth"), resume, stream)
    if kind == "refresh":
        return Refresh(_token(frame, "refresh"))
    if kind == "ping":
        nonce = frame.get("nonce")
        return Ping(nonce if isinstance(nonce, str) else None)
    if kind == "pong":
        return Pong()
    if kind == "request":
        return _request(frame)
    raise FrameError(f"realtime frame: unknown type {kind!r}")


def _request(frame: dict[str, Any]) -> Request:
    request_id = frame.get("id")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= MAX_REQUEST_ID:
        raise FrameError(
            f"realtime request frame: id must be a string of 1 to {MAX_REQUEST_ID} "
            "characters"
        )
    method = frame.get("method")
    params = frame.get("params", {})
    if not isinstance(method, str) or not method:
        return Request(request_id, "", {}, "method must be a non-empty string")
    if not isinstance(params, dict):
        return Request(request_id, method, {}, "params must be a JSON object")
    return Request(request_id, method, params)


def encode(frame: dict[str, Any]) -> str:
    """A server frame as compact JSON text, non-ASCII kept as is."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def ready_frame(
    connection_id: str,
    user: str,
    stream: str,
    seq: int,
    heartbeat_s: float,
    expires_at: float,
    resumed: bool,
    replayed: int,
) -> dict[str, Any]:
    """`ready`: authentication succeeded; `seq` is where the stream stands."""
    return {
        "type": "ready",
        "protocol": PROTOCOL_VERSION,
        "connectionId": connection_id,
        "userId": user,
        "stream": stream,
        "seq": seq,
        "resumed": resumed,
        "replayed": replayed,
        "heartbeatIntervalS": heartbeat_s,
        "expiresOn": iso8601(expires_at),
    }


def recipient(user: str) -> dict[str, Any]:
    """The `recipient` identifier the gateway adds to each event's data."""
    return {
        "kind": "communicationUser",
        "rawId": user,
        "communicationUser": {"id": user},
    }


def event_frame(entry: Entry, to: dict[str, Any]) -> dict[str, Any]:
    """`event`: one numbered event of the user's stream, addressed to `to`."""
    return {
        "type": "event",
        "seq": entry.seq,
        "event": entry.event,
        "time": iso8601(entry.time),
        "data": {**entry.data, "recipient": to},
    }


def resync_frame(seq: int, reason: str) -> dict[str, Any]:
    """`resync`: events were lost to the client; refetch state, continue at `seq`."""
    return {"type": "resync", "seq": seq, "reason": reason}


def ping_frame(now: float) -> dict[str, Any]:
    """`ping`: the server's heartbeat; the client answers `pong`."""
    return {"type": "ping", "time": iso8601(now)}


def pong_frame(nonce: str | None) -> dict[str, Any]:
    """`pong`: the answer to a client's `ping`."""
    frame: dict[str, Any] = {"type": "pong"}
    if nonce is not None:
        frame["nonce"] = nonce
    return frame


def refreshed_frame(expires_at: float) -> dict[str, Any]:
    """`refreshed`: the new token is accepted; the connection lasts until then."""
    return {"type": "refreshed", "expiresOn": iso8601(expires_at)}


def error_frame(code: CloseCode, message: str) -> dict[str, Any]:
    """`error`: sent just before a close, with the full reason."""
    return {"type": "error", "code": int(code), "message": message}


def result_frame(request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """`response` carrying a request's result."""
    return {"type": "response", "id": request_id, "result": result}


def failure_frame(
    request_id: str, code: str, message: str, status: int
) -> dict[str, Any]:
    """`response` carrying a request's error, as docs/calls.md describes it."""
    return {
        "type": "response",
        "id": request_id,
        "error": {"code": code, "message": message, "status": status},
    }
