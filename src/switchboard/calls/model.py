"""The call model: calls and participants, each an explicit state machine.

A call:        ringing -> connected -> ended, or ringing -> ended
A participant: ringing -> connected | declined | left;  connected -> left;
               declined | left -> connected (joining again)

Records are loaded from storage, moved with `move` (which refuses an illegal
move and logs `old -> new`), and written back in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from switchboard.core.errors import AcsError, ErrorCode
from switchboard.rooms.roles import capabilities

log = logging.getLogger(__name__)

PRESENTER = "Presenter"
"""The role of every participant of a call outside a room."""


class CallKind(StrEnum):
    """How a call came to be."""

    DIRECT = "direct"
    """Started to users; it rings them."""
    GROUP = "group"
    """Joined by a group id any voip user may use."""
    ROOM = "room"
    """The call of a room of the Rooms API."""


class CallState(StrEnum):
    """Where a call is in its life."""

    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class ParticipantState(StrEnum):
    """Where one participant is in a call."""

    RINGING = "ringing"
    CONNECTED = "connected"
    DECLINED = "declined"
    LEFT = "left"


class EndReason(StrEnum):
    """Why a call ended."""

    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELED = "canceled"
    NO_ANSWER = "noAnswer"
    MEDIA_SERVER_LOST = "mediaServerLost"


class InviteEnd(StrEnum):
    """Why a callee's ringing stopped."""

    ANSWERED_ELSEWHERE = "answeredElsewhere"
    DECLINED_ELSEWHERE = "declinedElsewhere"
    CANCELED = "canceled"
    NO_ANSWER = "noAnswer"


class LeaveReason(StrEnum):
    """Why a participant is no longer in a call."""

    LEFT = "left"
    """It said so (`call.leave`)."""
    CONNECTION_LOST = "connectionLost"
    """Its last connection closed and it did not come back in time."""
    NO_ANSWER = "noAnswer"
    DECLINED = "declined"
    CALL_ENDED = "callEnded"


_CALL_MOVES = {
    CallState.RINGING: {CallState.CONNECTED, CallState.ENDED},
    CallState.CONNECTED: {CallState.ENDED},
    CallState.ENDED: set(),
}

_PARTICIPANT_MOVES = {
    ParticipantState.RINGING: {
        ParticipantState.CONNECTED,
        ParticipantState.DECLINED,
        ParticipantState.LEFT,
    },
    ParticipantState.CONNECTED: {ParticipantState.LEFT},
    ParticipantState.DECLINED: {ParticipantState.CONNECTED},
    ParticipantState.LEFT: {ParticipantState.CONNECTED},
}


def role_may(role: str, what: str) -> bool:
    """Whether a role may `publish`, `share_screen` or `end_call`.

    Outside rooms everyone is a Presenter and may do everything; room roles
    follow the Rooms capability table (docs/rooms.md).
    """
    if role == PRESENTER:
        return True
    try:
        allowed: bool = getattr(capabilities(role), what)
    except ValueError:
        return False
    return allowed


def conflict(message: str) -> AcsError:
    """A 409: the request does not fit the call's state."""
    return AcsError(409, ErrorCode.CONFLICT, message)


@dataclass(slots=True)
class Call:
    """One call, as stored."""

    id: str
    kind: CallKind
    state: CallState
    created_by: str
    created_at: float
    subject: str
    video: bool
    group_id: str | None = None
    room_id: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    media_server: str | None = None
    media_room: int | None = None

    @property
    def active_key(self) -> str | None:
        """What makes a group or room call unique while it is under way."""
        if self.state is CallState.ENDED:
            return None
        if self.kind is CallKind.GROUP:
            return f"group:{self.group_id}"
        if self.kind is CallKind.ROOM:
            return f"room:{self.room_id}"
        return None

    def move(self, new: CallState, now: float, reason: EndReason | None = None) -> None:
        """Change state; a move the machine does not allow is a 409."""
        if new not in _CALL_MOVES[self.state]:
            raise conflict(
                f"call {self.id}: expected a move out of {self.state.value}, got "
                f"{self.state.value} -> {new.value}"
            )
        log.info("call %s: %s -> %s", self.id, self.state.value, new.value)
        self.state = new
        if new is CallState.CONNECTED and self.answered_at is None:
            self.answered_at = now
        if new is CallState.ENDED:
            self.ended_at = now
            self.end_reason = reason or EndReason.COMPLETED

    def duration_s(self) -> float:
        """Seconds from the answer to the end; 0 until both are known."""
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.answered_at)


@dataclass(slots=True)
class Participant:
    """One user's part in a call, as stored."""

    call_id: str
    user: str
    display_name: str
    state: ParticipantState
    role: str
    added_at: float
    muted: bool = False
    video: bool = False
    screen_sharing: bool = False
    joined_at: float | None = None
    left_at: float | None = None
    reason: str | None = None
    session: int = 0

    @property
    def active(self) -> bool:
        """Ringing or connected: still part of the call."""
        return self.state in (ParticipantState.RINGING, ParticipantState.CONNECTED)

    def move(
        self, new: ParticipantState, now: float, reason: str | None = None
    ) -> None:
        """Change state; a move the machine does not allow is a 409."""
        if new not in _PARTICIPANT_MOVES[self.state]:
            raise conflict(
                f"call {self.call_id}: participant {self.user}: expected a move out "
                f"of {self.state.value}, got {self.state.value} -> {new.value}"
            )
        log.info(
            "call %s participant %s: %s -> %s",
            self.call_id,
            self.user,
            self.state.value,
            new.value,
        )
        self.state = new
        self.reason = reason
        if new is ParticipantState.CONNECTED:
            self.joined_at = now
            self.left_at = None
            self.session += 1
        elif new in (ParticipantState.LEFT, ParticipantState.DECLINED):
            self.left_at = now
            self.screen_sharing = False


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A publication in a call's media room."""

    feed_id: int
    user: str
    kind: str
