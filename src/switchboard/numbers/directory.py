"""What other capabilities ask of the number inventory: which numbers are ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OwnedNumber:
    """A number the resource has purchased, with its carrier and capabilities."""

    number: str
    """E.164, e.g. `+14255550123`."""
    carrier: str
    sms: str
    """`none`, `inbound`, `outbound` or `inbound+outbound`."""
    calling: str


class NumberDirectory(Protocol):
    """Looks up purchased numbers."""

    async def owned(self, number: str) -> OwnedNumber | None:
        """The purchased number, or None when the resource does not own it."""
        ...
