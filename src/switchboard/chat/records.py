"""Chat's value records: what the service hands the routes and the notifier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from switchboard.chat.content import MessageType

NO_HISTORY_LIMIT = 0.0
"""`share_history_at` of a participant who sees the whole history (the epoch)."""


@dataclass(frozen=True, slots=True)
class Thread:
    """A chat thread's properties."""

    id: str
    topic: str
    created_by: str
    created_at: float
    last_message_at: float
    deleted_at: float | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    """A member of a thread, or one named in a request or a system message."""

    user_id: str
    display_name: str | None = None
    share_history_at: float = NO_HISTORY_LIMIT


@dataclass(frozen=True, slots=True)
class Member(Participant):
    """A current participant with its place in the participant list."""

    added_sequence: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message; system ones carry `topic`, `participants`, `initiator`."""

    thread_id: str
    id: int
    sequence_id: int
    version: int
    type: MessageType
    created_at: float
    sender_id: str | None = None
    sender_display_name: str | None = None
    content: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    topic: str | None = None
    participants: tuple[Participant, ...] = ()
    initiator: str | None = None
    edited_at: float | None = None
    deleted_at: float | None = None

    @property
    def is_system(self) -> bool:
        """True for topic and participant changes the service wrote itself."""
        return self.type not in (MessageType.TEXT, MessageType.HTML)


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    """The newest message a participant has read."""

    user_id: str
    message_id: int
    read_at: float


@dataclass(frozen=True, slots=True)
class Rejected:
    """A participant a create or add request named that could not be added."""

    raw_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Created:
    """The outcome of creating a thread, replayed for a repeated request id."""

    thread: Thread
    rejected: tuple[Rejected, ...] = ()
