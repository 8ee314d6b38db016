"""SMS records and the outbound message state machine."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum

from switchboard.core.clock import utc_from_ts

log = logging.getLogger(__name__)


class OutboundState(StrEnum):
    """Where an outbound message is on its way to a phone."""

    QUEUED = "queued"
    """Accepted and stored; waiting for (another) submission to the carrier."""
    SUBMITTED = "submitted"
    """The carrier took it; a delivery report may follow."""
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


RECEIVED = "received"
"""The one state of an inbound message."""

_MOVES: dict[OutboundState, frozenset[OutboundState]] = {
    OutboundState.QUEUED: frozenset(
        {OutboundState.QUEUED, OutboundState.SUBMITTED, OutboundState.FAILED}
    ),
    OutboundState.SUBMITTED: frozenset(
        {OutboundState.DELIVERED, OutboundState.FAILED, OutboundState.EXPIRED}
    ),
    OutboundState.DELIVERED: frozenset(),
    OutboundState.FAILED: frozenset(),
    OutboundState.EXPIRED: frozenset(),
}


def transition(message_id: str, old: OutboundState, new: OutboundState) -> None:
    """Check one move of the state machine and log it.

    Raises:
        ValueError: the move is not allowed.
    """
    if new not in _MOVES[old]:
        raise ValueError(f"SMS {message_id}: expected a move from {old}, got {new}")
    if new is not old:
        log.info("SMS %s: %s -> %s", message_id, old, new)


def is_final(state: OutboundState) -> bool:
    """Whether nothing more happens to a message in this state."""
    return not _MOVES[state]


def _stamp(at: float) -> str:
    return utc_from_ts(at).strftime("%Y%m%d%H%M%S")


def outgoing_id(at: float) -> str:
    """A new outbound message id, shaped like ACS's `Outgoing_<time><uuid>`."""
    return f"Outgoing_{_stamp(at)}{uuid.uuid4()}"


def incoming_id(at: float) -> str:
    """A new inbound message id, shaped like ACS's `Incoming_<time><uuid>`."""
    return f"Incoming_{_stamp(at)}{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message sent from one of the resource's numbers."""

    id: str
    sender: str
    recipient: str
    body: str
    tag: str
    delivery_report: bool
    segments: int
    state: OutboundState
    carrier: str
    carrier_message_id: str | None
    attempts: int
    created_at: float
    status_detail: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One entry of a send request, checked."""

    to: str
    """As the client wrote it, echoed in the result."""
    number: str | None
    """E.164, or None when `to` is not a valid phone number."""
    repeatability_id: str | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome for one recipient, as the API reports it."""

    to: str
    message_id: str | None
    status: int
    error: str = ""
    repeatability: str | None = None
    """`accepted` or `rejected` when the recipient carried a repeatability id."""

    @property
    def successful(self) -> bool:
        """Whether the message was accepted."""
        return self.status == 202
