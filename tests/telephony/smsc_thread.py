"""The test SMSC on an event loop of its own, for sync tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.telephony.smsc import TestSmsc

T = TypeVar("T")


class ThreadedSmsc:
    """A TestSmsc listening on 127.0.0.1 from a loop running in a daemon thread."""

    def __init__(self, smsc: TestSmsc) -> None:
        self.smsc = smsc
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port: int = self.call(smsc.start())

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run `work` on the SMSC's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def stop(self) -> None:
        """Stop the SMSC, then its loop and thread."""
        self.call(self.smsc.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
