"""VideoRoom requests and error codes, and the SDP facts the engine needs."""

from __future__ import annotations

from typing import Any

from switchboard.media.engine import MediaError
from switchboard.media.janus_client import ConnectionLost, JanusError

# Error codes of the VideoRoom plugin (janus_videoroom.c, JANUS_VIDEOROOM_ERROR_*).
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
PUBLISHERS_FULL = 432
ALREADY_PUBLISHED = 434
INVALID_SDP = 437
INVALID_SDP_TYPE = 431

# Error codes of the Janus core (apierror.h, JANUS_ERROR_*).
NO_SUCH_HANDLE = 459
JSEP_INVALID_SDP = 465
UNEXPECTED_ANSWER = 469
WEBRTC_STATE = 471

_CLIENT_FAULTS = {
    NO_SUCH_ROOM: "NotFound",
    NO_SUCH_FEED: "NotFound",
    NO_SUCH_HANDLE: "NotFound",
    PUBLISHERS_FULL: "Conflict",
    ALREADY_PUBLISHED: "Conflict",
    WEBRTC_STATE: "Conflict",
    UNEXPECTED_ANSWER: "BadRequest",
    INVALID_SDP: "BadRequest",
    INVALID_SDP_TYPE: "BadRequest",
    JSEP_INVALID_SDP: "BadRequest",
}


def room_request(room: int, call_id: str, publishers: int) -> dict[str, Any]:
    """The VideoRoom `create` request for one call's room."""
    return {
        "request": "create",
        "room": room,
        "permanent": False,
        "is_private": True,
        "description": f"call {call_id}"[:120],
        "publishers": publishers,
        # Opus and VP8 are what every WebRTC endpoint (aiortc included) has.
        "audiocodec": "opus",
        "videocodec": "vp8",
        "fir_freq": 10,
        "notify_joining": False,
    }


def media_error(exc: Exception) -> MediaError:
    """A MediaError for clients from a Janus error or a lost connection."""
    if isinstance(exc, JanusError):
        code = _CLIENT_FAULTS.get(exc.code)
        if code is not None:
            return MediaError(code, exc.reason or f"media server error {exc.code}")
        return MediaError("MediaUnavailable", f"media server error {exc.code}")
    if isinstance(exc, ConnectionLost):
        return MediaError("MediaUnavailable", f"media server lost: {exc}")
    return MediaError("MediaUnavailable", "the media server did not answer in time")


def media_sections(sdp: str) -> tuple[tuple[str, str], ...]:
    """Each m-line of an SDP as (media type, mid) (RFC 8866 §5.14, RFC 8843 §15)."""
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
            sections.append([kind, str(len(sections))])
        elif line.startswith("a=mid:") and sections:
            sections[-1][1] = line[len("a=mid:") :].strip()
    return tuple((kind, mid) for kind, mid in sections)
