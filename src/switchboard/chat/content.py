"""Message content: types, size, HTML sanitising and metadata rules.

HTML is cleaned with nh3 (the Ammonia sanitiser): its allow-list keeps
formatting (paragraphs, emphasis, lists, tables, links, images) and drops
scripts and styles with their content, event-handler and style attributes, and
URLs whose scheme is not on the list (`javascript:`, `data:`). Plain text is
stored exactly as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import nh3

from switchboard.core.errors import ErrorCode, bad_request


class MessageType(StrEnum):
    """The message types of ChatMessageType; the last three are system messages."""

    TEXT = "text"
    HTML = "html"
    TOPIC_UPDATED = "topicUpdated"
    PARTICIPANT_ADDED = "participantAdded"
    PARTICIPANT_REMOVED = "participantRemoved"


USER_TYPES = (MessageType.TEXT, MessageType.HTML)
"""The types a client may send."""


def parse_type(value: str | None) -> MessageType:
    """The type a client asked for (default text); 400 for anything else."""
    if value is None:
        return MessageType.TEXT
    for kind in USER_TYPES:
        # Older api-versions and other SDKs capitalise the enum ("Text").
        if value.lower() == kind.value:
            return kind
    raise bad_request(
        f"the message type {value!r} is not supported; a message is 'text' or 'html'",
        code=ErrorCode.INVALID_REQUEST_BODY,
        target="type",
    )


def sanitise(kind: MessageType, content: str) -> str:
    """The content as stored: HTML cleaned, text unchanged."""
    if kind is MessageType.HTML:
        return nh3.clean(content)
    return content


def check_content(content: Any) -> str:
    """A message's content must be a non-empty string."""
    if not isinstance(content, str) or not content:
        raise bad_request(
            "the message content must be a non-empty string",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="content",
        )
    return content


def check_metadata(value: Any, *, allow_null: bool) -> dict[str, str | None] | None:
    """Metadata as a map of strings; null values only where an edit removes keys."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_metadata("metadata must be an object of string values")
    for key, item in value.items():
        if isinstance(item, str) or (item is None and allow_null):
            continue
        raise _bad_metadata(f"metadata value of {key!r} must be a string")
    return dict(value)


def _bad_metadata(message: str) -> Exception:
    return bad_request(message, code=ErrorCode.INVALID_REQUEST_BODY, target="metadata")


def merge_metadata(
    current: Mapping[str, str], patch: Mapping[str, str | None]
) -> dict[str, str]:
    """An edit's metadata applied to the stored metadata.

    RFC 7396 (JSON merge patch) for a flat map: keys in the patch replace, keys
    not in it stay, and a key set to null is removed. An empty string removes
    the key too, since ACS has no use for an empty metadata value.
    """
    merged = dict(current)
    for key, value in patch.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def message_size(content: str, metadata: Mapping[str, str | None] | None) -> int:
    """UTF-8 bytes of the content and the metadata keys and values."""
    size = len(content.encode("utf-8"))
    for key, value in (metadata or {}).items():
        size += len(key.encode("utf-8")) + len((value or "").encode("utf-8"))
    return size


def check_size(size: int, limit: int) -> None:
    """400 when a message is over the size limit."""
    if size > limit:
        raise bad_request(
            f"the message is {size} bytes; the limit is {limit} bytes of content "
            "and metadata",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="content",
        )
