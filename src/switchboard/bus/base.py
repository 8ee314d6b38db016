"""The bus interface: publish JSON messages on topics, subscribe with callbacks."""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[None]]


class Subscription:
    """A handle that ends one subscription when closed."""

    def __init__(self, close: Callable[[], Awaitable[None]]) -> None:
        self._close = close
        self._closed = False

    async def close(self) -> None:
        """Stop receiving; closing twice is harmless."""
        if not self._closed:
            self._closed = True
            await self._close()


class Bus(abc.ABC):
    """Delivers each published message to every subscriber of its topic, on any node."""

    @abc.abstractmethod
    async def publish(self, topic: str, message: Message) -> None:
        """Send `message` to the topic's subscribers; returns once it is handed on."""

    @abc.abstractmethod
    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Call `handler` for every message on `topic` until the subscription closes."""

    async def close(self) -> None:  # noqa: B027 - most buses hold nothing to close
        """Release connections; subscriptions end."""


async def deliver(topic: str, handlers: list[Handler], message: Message) -> None:
    """Run each handler; one failing handler never keeps the message from the rest."""
    for handler in handlers:
        try:
            await handler(message)
        except Exception:
            log.exception("bus handler failed on topic %s", topic)
