"""What a capability needs to push an event to users: the `Notifier` interface.

Capabilities (chat now, calling and push later) depend on this interface only;
the realtime gateway implements it. Event names follow the ACS client SDKs'
realtime event names (`chatMessageReceived`, `typingIndicatorReceived`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Notifier(Protocol):
    """Delivers one event to every connection of each recipient, on any node."""

    async def notify(
        self, recipients: Iterable[str], event: str, data: Mapping[str, Any]
    ) -> None:
        """Queue `event` with `data` for each recipient (a raw user id)."""
        ...
