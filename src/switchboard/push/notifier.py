"""The notifier the node hands to chat and calls: realtime delivery, then pushes.

It implements the same `Notifier` interface as the realtime hub it wraps, so a
capability does not know whether its events also become pushes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.push.service import PushService
from switchboard.realtime.notifier import Notifier

log = logging.getLogger(__name__)


class PushingNotifier:
    """Delivers through the wrapped notifier, then queues the pushes events cause."""

    def __init__(self, inner: Notifier, push: PushService) -> None:
        self._inner = inner
        self._push = push

    async def stage(
        self,
        conn: AsyncConnection,
        recipients: Sequence[str],
        event: str,
        data: Mapping[str, Any],
    ) -> None:
        """Stage in the wrapped notifier, then note the pushes the change causes."""
        await self._inner.stage(conn, recipients, event, data)
        await self._push.stage(conn, recipients, event, data)

    async def notify(
        self, recipients: Iterable[str], event: str, data: Mapping[str, Any]
    ) -> None:
        """Deliver to live connections, then queue pushes; a push failure is logged."""
        users = list(recipients)
        await self._inner.notify(users, event, data)
        try:
            await self._push.on_event(users, event, data)
        except Exception:
            log.exception("could not queue pushes for %s", event)
