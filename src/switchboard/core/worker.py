"""A background loop on every node, woken through the bus and polling as a fallback."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging

from switchboard.bus import Bus
from switchboard.bus.base import Message

log = logging.getLogger(__name__)


class Worker(abc.ABC):
    """Runs `run_once` while it finds work, then waits for a wake-up or the poll."""

    def __init__(self, bus: Bus, topic: str, poll_interval_s: float, name: str) -> None:
        self._bus = bus
        self._wake_topic = topic
        self._poll_interval_s = poll_interval_s
        self._name = name
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def run_once(self) -> bool:
        """One round of work; True when there may be more right away."""

    async def start(self) -> None:
        """Listen for wake-ups and start working."""
        await self._bus.subscribe(self._wake_topic, self._on_wake)
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop; work under way is abandoned and its leases run out for others."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wake(self) -> None:
        """Tell this worker on every node that there is work."""
        await self._bus.publish(self._wake_topic, {})

    async def _on_wake(self, message: Message) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a round failed; retrying", self._name)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            self._wake.clear()
