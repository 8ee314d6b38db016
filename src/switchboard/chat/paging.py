"""Keyset paging: continuation tokens and the pages they lead to.

A token names the last item a page returned, by a key that never changes and
never repeats (a message's sequence number, a thread's creation time and id),
so the next page starts right after it however many items arrive meanwhile:
no item is skipped or returned twice, which offsets cannot promise.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from switchboard.core.errors import bad_request

T = TypeVar("T")

TOKEN_PARAM = "continuationToken"
"""The query parameter that carries the token in a `nextLink`."""


class Listing(StrEnum):
    """What a token pages through; a token is only valid for its own listing."""

    THREADS = "t"
    MESSAGES = "m"
    PARTICIPANTS = "p"
    RECEIPTS = "r"


Key = tuple[str | int | float, ...]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after the item with `key` in `listing`."""

    listing: Listing
    key: Key

    def token(self) -> str:
        """The cursor as an opaque URL-safe string."""
        raw = json.dumps([self.listing.value, *self.key], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next, None on the last page."""

    items: Sequence[T]
    next: Cursor | None


def parse_token(token: str, listing: Listing, key_len: int) -> Cursor:
    """The cursor in `token`; a 400 when it is not one of ours for this listing."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raw = None
    if (
        not isinstance(raw, list)
        or len(raw) != key_len + 1
        or raw[0] != listing.value
        or not all(isinstance(part, str | int | float) for part in raw[1:])
    ):
        raise bad_request(
            f"the {TOKEN_PARAM} is not valid for this list", target=TOKEN_PARAM
        )
    return Cursor(listing, tuple(raw[1:]))


def page_of(
    rows: Sequence[T], size: int, listing: Listing, key_of: Callable[[T], Key]
) -> Page[T]:
    """A page from up to `size + 1` rows; an extra row only says there is more."""
    if len(rows) <= size:
        return Page(items=rows, next=None)
    kept = rows[:size]
    return Page(items=kept, next=Cursor(listing, key_of(kept[-1])))


def first_offset(skip: int | None, token: str | None) -> int:
    """Items to skip: `skip` applies to the first page only; 400 when negative."""
    # A continuation token has already moved past whatever `skip` skipped.
    if skip is None or token is not None:
        return 0
    if skip < 0:
        raise bad_request("skip must not be negative", target="skip")
    return skip
