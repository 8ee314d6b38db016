"""The scopes a user access token may carry."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """ACS token scopes."""

    CHAT = "chat"
    VOIP = "voip"
    CHAT_JOIN = "chat.join"
    CHAT_JOIN_LIMITED = "chat.join.limited"
    VOIP_JOIN = "voip.join"


CHAT_SCOPES = frozenset({Scope.CHAT, Scope.CHAT_JOIN, Scope.CHAT_JOIN_LIMITED})
"""Any of these lets a token use the chat data plane."""

VOIP_SCOPES = frozenset({Scope.VOIP, Scope.VOIP_JOIN})
"""Any of these lets a token use calling."""


def parse_scopes(values: list[str]) -> tuple[Scope, ...]:
    """Known scopes in the order given, without repeats; ValueError names a bad one."""
    if not values:
        raise ValueError("at least one scope is required")
    scopes: dict[Scope, None] = {}
    for value in values:
        try:
            scopes[Scope(value)] = None
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(
                f"unknown scope {value!r}; known scopes: {known}"
            ) from None
    return tuple(scopes)
