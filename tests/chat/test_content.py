"""Message content rules on their own: types, sanitising, metadata, size."""

from __future__ import annotations

import pytest

from switchboard.chat.content import (
    MessageType,
    check_metadata,
    merge_metadata,
    message_size,
    parse_type,
    sanitise,
)
from switchboard.core.errors import AcsError


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, MessageType.TEXT), ("text", MessageType.TEXT), ("HTML", MessageType.HTML)],
)
def test_parse_type(given: str | None, expected: MessageType) -> None:
    assert parse_type(given) is expected


@pytest.mark.parametrize("given", ["participantAdded", "richtext/html", ""])
def test_other_types_are_refused(given: str) -> None:
    with pytest.raises(AcsError) as caught:
        parse_type(given)
    assert (caught.value.status, caught.value.target) == (400, "type")


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>a<script>b()</script></p>", "<p>a</p>"),
        ('<b onmouseover="x()">b</b>', "<b>b</b>"),
        ('<a href="javascript:x()">l</a>', '<a rel="noopener noreferrer">l</a>'),
        (
            '<a href="https://e.org/">l</a>',
            '<a href="https://e.org/" rel="noopener noreferrer">l</a>',
        ),
        ("<style>p{}</style><em>e</em>", "<em>e</em>"),
        (
            "<table><tr><td>1</td></tr></table>",
            "<table><tbody><tr><td>1</td></tr></tbody></table>",
        ),
        ("<p>😀 ñ 中</p>", "<p>😀 ñ 中</p>"),
    ],
)
def test_html_sanitising(dirty: str, clean: str) -> None:
    assert sanitise(MessageType.HTML, dirty) == clean


def test_text_is_never_touched() -> None:
    text = "<script>not run</script> & <b>"
    assert sanitise(MessageType.TEXT, text) == text


def test_metadata_merge_rules() -> None:
    current = {"a": "1", "b": "2", "c": "3", "d": "4"}
    patch: dict[str, str | None] = {"b": "20", "c": None, "d": "", "e": "5"}

    assert merge_metadata(current, patch) == {"a": "1", "b": "20", "e": "5"}
    assert merge_metadata(current, {}) == current


def test_metadata_nulls_only_where_allowed() -> None:
    assert check_metadata({"k": None}, allow_null=True) == {"k": None}
    with pytest.raises(AcsError):
        check_metadata({"k": None}, allow_null=False)
    with pytest.raises(AcsError):
        check_metadata({"k": 1}, allow_null=True)
    assert check_metadata(None, allow_null=False) is None


def test_size_counts_utf8_bytes() -> None:
    assert message_size("é🙂", {"kë": "v", "n": None}) == 2 + 4 + 3 + 1 + 1
