"""Fixtures of the media tests: a started engine over an embedded Janus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.media.janus import JanusEngine
from tests.media.janus import running_engine


@pytest.fixture
async def janus_engine(tmp_path: Path) -> AsyncIterator[JanusEngine]:
    """A JanusEngine over its own embedded Janus in the namespace."""
    async with running_engine(tmp_path) as engine:
        yield engine
