"""Fixtures for the traversal tests: a TURN server on loopback port 0."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from switchboard.tls import ensure_dev_tls
from switchboard.traversal import TurnServer, TurnSettings

SECRET = b"test-shared-secret"


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def base_settings(**overrides: object) -> TurnSettings:
    """Loopback settings on free ports, loopback peers allow-listed."""
    values: dict[str, object] = {
        "udp_port": 0,
        "tcp_port": 0,
        "tls_port": 0,
        "secret": SECRET,
        "allowed_peers": ("127.0.0.0/8", "::1/128"),
        "relay_port_min": 40000,
        "relay_port_max": 40999,
        "sweep_interval_s": 3600.0,
    }
    values.update(overrides)
    return TurnSettings(**values)  # type: ignore[arg-type]


ServerFactory = Callable[..., Awaitable[TurnServer]]


@pytest.fixture
def clock() -> FakeClock:
    """The fake clock handed to servers made by ``make_server``."""
    return FakeClock()


@pytest.fixture
async def make_server(
    clock: FakeClock, tls_context: tuple[ssl.SSLContext, ssl.SSLContext, Path, Path]
) -> AsyncIterator[ServerFactory]:
    """Start servers with settings overrides; all are stopped afterwards."""
    servers: list[TurnServer] = []

    async def make(**overrides: object) -> TurnServer:
        server = TurnServer(
            base_settings(**overrides),
            ssl_context=tls_context[0],
            registry=CollectorRegistry(),
            clock=clock,
            wall_clock=time.time,
        )
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture(scope="session")
def tls_context(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ssl.SSLContext, ssl.SSLContext, Path, Path]:
    """A loopback certificate from the suite's CA: server and client contexts, files."""
    files = ensure_dev_tls(tmp_path_factory.mktemp("turn-tls"), [])
    assert files.ca is not None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    client = ssl.create_default_context(cafile=str(files.ca))
    return server, client, files.cert, files.key
