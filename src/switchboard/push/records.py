"""Push records: platforms, registrations, pushes and the delivery state machine."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class Platform(StrEnum):
    """The push services a device can be registered with."""

    APNS = "apns"
    APNS_VOIP = "apns-voip"
    FCM = "fcm"
    WNS = "wns"
    WEBPUSH = "webpush"


class PushKind(StrEnum):
    """What a push announces."""

    CALL = "incomingCall"
    MESSAGE = "chatMessageReceived"


class DeliveryState(StrEnum):
    """Where one push to one device is."""

    PENDING = "pending"
    """Waiting for (another) attempt."""
    SENT = "sent"
    """The provider accepted it."""
    DROPPED = "dropped"
    """Given up: a permanent error, too many attempts, or it expired."""


_MOVES: dict[DeliveryState, frozenset[DeliveryState]] = {
    DeliveryState.PENDING: frozenset(
        {DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.DROPPED}
    ),
    DeliveryState.SENT: frozenset(),
    DeliveryState.DROPPED: frozenset(),
}


def transition(delivery_id: int, old: DeliveryState, new: DeliveryState) -> None:
    """Check one move of a push's state machine and log it.

    Raises:
        ValueError: the move is not allowed.
    """
    if new not in _MOVES[old]:
        raise ValueError(f"push {delivery_id}: expected a move from {old}, got {new}")
    if new is not old:
        log.info("push %d: %s -> %s", delivery_id, old, new)


@dataclass(frozen=True, slots=True)
class Registration:
    """One device of one user on one push service."""

    id: str
    user_id: str
    platform: Platform
    app_id: str
    token: str
    """The device token (APNs, FCM), channel URI (WNS) or endpoint (Web Push)."""
    p256dh: str | None
    auth: str | None
    created_at: float
    updated_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class Push:
    """What to tell one device: the payload fields, the kind, how to collapse it."""

    kind: PushKind
    payload: dict[str, Any]
    """The documented fields (docs/push.md): type, callId or threadId, ..."""
    collapse_key: str = ""
    """Pushes with the same key replace each other on the device (one thread)."""
    ttl_s: int = 0
    """How long the provider may hold the push for a device that is off."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A push taken by a sender for one attempt, with its device."""

    delivery_id: int
    attempts: int
    expires_at: float
    push: Push
    registration: Registration = field(compare=False)


@dataclass(frozen=True, slots=True)
class Staged:
    """A change whose pushes were noted in its transaction and not queued yet."""

    source: str
    event: str
    recipients: list[str]
    data: dict[str, Any]
