"""Who may do what in chat: scopes, membership, rate budgets, and their errors."""

from __future__ import annotations

from switchboard.auth.scopes import Scope
from switchboard.auth.tokens import Principal
from switchboard.config import ChatSettings
from switchboard.core.errors import AcsError, forbidden, not_found
from switchboard.core.ratelimit import Budget

MANAGE_THREADS = frozenset({Scope.CHAT})
"""Creating, renaming and deleting threads: `chat.join` tokens may not (ACS)."""

MANAGE_PARTICIPANTS = frozenset({Scope.CHAT, Scope.CHAT_JOIN})
"""Adding and removing participants: `chat.join.limited` tokens may not (ACS)."""


def require_scope(principal: Principal, allowed: frozenset[Scope], action: str) -> None:
    """403 unless the token carries one of `allowed`."""
    if principal.scopes & allowed:
        return
    held = ", ".join(sorted(s.value for s in principal.scopes))
    raise forbidden(f"a token with the scopes {held} may not {action}")


def thread_gone(thread_id: str) -> AcsError:
    """404 for a thread that does not exist or was deleted."""
    return not_found(
        f"the chat thread {thread_id} does not exist", target="chatThreadId"
    )


def not_member() -> AcsError:
    """403 for a caller who is not a current participant."""
    return forbidden("the caller is not a participant of this chat thread")


def message_gone(message_id: str) -> AcsError:
    """404 for a message the caller cannot see."""
    return not_found(
        f"the chat message {message_id} does not exist in this thread",
        target="chatMessageId",
    )


def user_budget(settings: ChatSettings, user_id: str) -> Budget:
    """The per-user request budget."""
    return Budget(
        f"chat:user:{user_id}", settings.user_requests, settings.rate_window_s
    )


def thread_budget(settings: ChatSettings, thread_id: str) -> Budget:
    """The per-thread request budget."""
    return Budget(
        f"chat:thread:{thread_id}", settings.thread_requests, settings.rate_window_s
    )
