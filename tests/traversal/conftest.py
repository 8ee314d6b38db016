"""Fixtures for the traversal tests: a TURN server on loopback port 0."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

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
    """A self-signed loopback certificate: server and client contexts, files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("turn-tls")
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client, cert_file, key_file
