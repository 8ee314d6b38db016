"""Room roles and what each may do in a room's call.

The roles are those of the ACS Rooms API (`Role` in the Rooms swagger,
2025-03-13). What a role may do in a call follows the ACS rooms concept: a
Presenter has every capability, an Attendee may speak and show video but not
share a screen, a Consumer only receives, and a Collaborator is an Attendee.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A participant's role in a room."""

    PRESENTER = "Presenter"
    ATTENDEE = "Attendee"
    CONSUMER = "Consumer"
    COLLABORATOR = "Collaborator"


DEFAULT_ROLE = Role.ATTENDEE
"""The role of a participant added without one (Rooms swagger, `Role`)."""


def parse_role(value: str) -> Role | None:
    """The role named by `value`, matched without regard to case; None if none."""
    for role in Role:
        if role.value.lower() == value.lower():
            return role
    return None


@dataclass(frozen=True, slots=True)
class RoleCapabilities:
    """What a participant in a role may do in a room's call."""

    publish: bool
    """Send audio and video."""
    share_screen: bool
    """Send a screen-sharing stream."""
    end_call: bool
    """End the call for everyone."""


_CAPABILITIES = {
    Role.PRESENTER: RoleCapabilities(publish=True, share_screen=True, end_call=True),
    Role.ATTENDEE: RoleCapabilities(publish=True, share_screen=False, end_call=False),
    Role.CONSUMER: RoleCapabilities(publish=False, share_screen=False, end_call=False),
    Role.COLLABORATOR: RoleCapabilities(
        publish=True, share_screen=False, end_call=False
    ),
}


def capabilities(role: Role | str) -> RoleCapabilities:
    """What `role` may do in a call; ValueError when it is not a room role."""
    parsed = role if isinstance(role, Role) else parse_role(role)
    if parsed is None:
        raise ValueError(f"{role!r} is not a room role")
    return _CAPABILITIES[parsed]
