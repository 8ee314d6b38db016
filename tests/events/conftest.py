"""Event test fixtures: a receiver on loopback and nodes allowed to reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer
from tests.events.receiver import Receiver, ThreadedReceiver

V = "api-version=2026-12-01"
"""The event subscription API's version."""

IN_THREAD = "Microsoft.Communication.ChatMessageReceivedInThread"

NODE_ENV = {
    "SWITCHBOARD_EVENTS_ALLOWED_TARGETS": "127.0.0.0/8",
    "SWITCHBOARD_SHUTDOWN_GRACE_S": "1",
}
"""Webhooks may reach loopback receivers; idle SDK connections do not delay stops."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver running on its own loop, for tests against real nodes."""
    threaded = ThreadedReceiver(Receiver())
    yield threaded.receiver
    threaded.stop()


@pytest.fixture
def node(server_factory: type) -> RunningServer:
    """A node of its own whose webhooks may reach loopback."""
    server: RunningServer = server_factory.start(env=NODE_ENV)
    return server
