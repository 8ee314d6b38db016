"""What a push carries: the documented payload built from a realtime event.

docs/push.md lists the fields. A call push always names the caller, since the
device must ring; a chat message push shows as much as `push.preview` allows.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from typing import Any, Literal

from switchboard.push.records import Push, PushKind
from switchboard.push.vapid import b64url

PREVIEW_CHARS = 200
"""Longest preview; pushes are limited to about 4 KB by every provider."""

Preview = Literal["full", "sender", "none"]

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def collapse_key(thread_id: str) -> str:
    """A thread's collapse key: 32 base64url characters, which every provider
    takes (Web Push's Topic is the strictest, RFC 8030 §5.4)."""
    return b64url(hashlib.sha256(thread_id.encode()).digest())[:32]


def preview_text(content: str, message_type: str) -> str:
    """The start of a message as plain text on one line."""
    text = content
    if message_type == "html":
        text = html.unescape(_TAG.sub(" ", content))
    text = _SPACE.sub(" ", text).strip()
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1].rstrip() + "…"
    return text


def raw_id(identifier: Any) -> str:
    """The raw id of a CommunicationIdentifierModel or a plain id string."""
    if isinstance(identifier, Mapping):
        return str(identifier.get("rawId") or identifier.get("id") or "")
    return str(identifier or "")


def message_push(
    data: Mapping[str, Any], preview: Preview, endpoint: str, ttl_s: int
) -> Push:
    """The push for a `chatMessageReceived` event."""
    payload: dict[str, Any] = {
        "type": PushKind.MESSAGE.value,
        "threadId": str(data["threadId"]),
        "messageId": str(data["id"]),
        "endpoint": endpoint,
    }
    if preview != "none":
        payload["senderId"] = raw_id(data.get("sender"))
        payload["senderDisplayName"] = str(data.get("senderDisplayName") or "")
    if preview == "full":
        payload["preview"] = preview_text(
            str(data.get("message") or ""), str(data.get("type") or "text")
        )
    return Push(PushKind.MESSAGE, payload, collapse_key(payload["threadId"]), ttl_s)


def call_push(data: Mapping[str, Any], endpoint: str, ttl_s: int) -> Push:
    """The push for an `incomingCall` event."""
    caller = data.get("caller") or {}
    payload: dict[str, Any] = {
        "type": PushKind.CALL.value,
        "callId": str(data["callId"]),
        "callerId": raw_id(caller.get("id") if isinstance(caller, Mapping) else caller),
        "callerDisplayName": str(
            caller.get("displayName", "") if isinstance(caller, Mapping) else ""
        ),
        "subject": str(data.get("subject") or ""),
        "video": bool(data.get("video", False)),
        "kind": str(data.get("kind") or "direct"),
        "endpoint": endpoint,
    }
    return Push(PushKind.CALL, payload, "", ttl_s)


def message_sender(data: Mapping[str, Any]) -> str:
    """The raw id of a chat message's sender (who gets no push for it)."""
    return raw_id(data.get("sender"))
