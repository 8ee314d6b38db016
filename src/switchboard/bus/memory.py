"""The in-process bus of a single node."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from switchboard.bus.base import Bus, Handler, Message, Subscription, deliver


class MemoryBus(Bus):
    """Delivers within this process, in publish order per topic."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, topic: str, message: Message) -> None:
        """Hand the message to the topic's handlers without waiting for them."""
        handlers = list(self._handlers.get(topic, ()))
        if not handlers:
            return
        task = asyncio.create_task(deliver(topic, handlers, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Add a handler for the topic."""
        self._handlers[topic].append(handler)

        async def close() -> None:
            self._handlers[topic].remove(handler)
            if not self._handlers[topic]:
                del self._handlers[topic]

        return Subscription(close)

    async def close(self) -> None:
        """Wait for deliveries already under way."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
