"""What a capability needs to push an event to users: the `Notifier` interface.

Capabilities (chat now, calling and push later) depend on this interface only;
the realtime gateway implements it. Event names follow the ACS client SDKs'
realtime event names (`chatMessageReceived`, `typingIndicatorReceived`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


class Notifier(Protocol):
    """Delivers one event to every connection of each recipient, on any node."""

    async def stage(
        self,
        conn: AsyncConnection,
        recipients: Sequence[str],
        event: str,
        data: Mapping[str, Any],
    ) -> None:
        """Inside the transaction of the change: keep what must outlive a crash.

        `notify` follows once the change is committed; what is staged here lets
        another node finish the work if this one stops in between.
        """
        ...

    async def notify(
        self, recipients: Iterable[str], event: str, data: Mapping[str, Any]
    ) -> None:
        """Queue `event` with `data` for each recipient (a raw user id)."""
        ...
