"""Time sources, injectable so timers and expiry can be tested deterministically."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Seconds since the Unix epoch, as `time.time` returns them."""


def system_clock() -> float:
    """The wall clock."""
    return time.time()


def utc_from_ts(ts: float) -> datetime:
    """A timezone-aware UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(ts, tz=UTC)


def iso8601(ts: float) -> str:
    """Epoch seconds as the ISO-8601 form ACS uses: `2024-01-01T00:00:00.000Z`."""
    moment = utc_from_ts(ts)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
