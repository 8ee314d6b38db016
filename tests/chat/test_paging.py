"""Continuation tokens and pages on their own."""

from __future__ import annotations

import pytest

from switchboard.chat.paging import Cursor, Listing, page_of, parse_token
from switchboard.core.errors import AcsError


def test_token_round_trips() -> None:
    cursor = Cursor(Listing.THREADS, (1712345678.123456, "19:abc@thread.v2"))

    assert parse_token(cursor.token(), Listing.THREADS, 2) == cursor
    assert "=" not in cursor.token()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "%%%",
        Cursor(Listing.MESSAGES, (3,)).token(),
        Cursor(Listing.THREADS, (1.0,)).token(),
        "WyJ0IiwxLHt9XQ",  # ["t",1,{}]
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(AcsError) as caught:
        parse_token(token, Listing.THREADS, 2)
    assert caught.value.status == 400
    assert caught.value.target == "continuationToken"


def test_page_of_uses_the_extra_row_only_as_a_signal() -> None:
    rows = [5, 4, 3]

    more = page_of(rows, 2, Listing.MESSAGES, lambda r: (r,))
    last = page_of(rows, 3, Listing.MESSAGES, lambda r: (r,))

    assert list(more.items) == [5, 4]
    assert more.next == Cursor(Listing.MESSAGES, (4,))
    assert list(last.items) == [5, 4, 3] and last.next is None
