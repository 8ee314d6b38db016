"""Call test fixtures: a node with a short reconnection grace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server

NODE_ENV = {
    "SWITCHBOARD_CALLS_RECONNECT_GRACE_S": "0.2",
    "SWITCHBOARD_EVENTS_ALLOWED_TARGETS": "127.0.0.0/8",
    "SWITCHBOARD_SHUTDOWN_GRACE_S": "1",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One node for a module's call tests."""
    server = start_server(Path(tmp_path_factory.mktemp("calls")), env=NODE_ENV)
    yield server
    server.stop()
