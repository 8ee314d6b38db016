"""The composition root: builds every component of a node once and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry

from switchboard.app import create_app
from switchboard.auth.resource import ResourceStore
from switchboard.auth.tokens import TokenIssuer, TokenVerifier
from switchboard.bus import Bus, open_bus
from switchboard.config import Settings
from switchboard.core.clock import Clock, system_clock
from switchboard.identity.service import IdentityService
from switchboard.services import Services
from switchboard.storage.engine import Database
from switchboard.tls import TlsFiles, ensure_dev_tls

log = logging.getLogger(__name__)

KEY_RELOAD_S = 2.0
"""How often a node rereads the access keys, so a regenerated key stops working."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the node."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the node ended up listening."""

    http_port: int
    https_port: int

    def connection_string(self, host: str, key: str) -> str:
        """The connection string a trusted service is given."""
        return f"endpoint=https://{host}:{self.https_port}/;accesskey={key}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Node:
    """One Switchboard process with all its roles."""

    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.db = Database(settings.database_url)
        self._bus: Bus | None = None
        self._servers: list[_Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def build(self) -> Services:
        """Storage, bus and services, ready to serve."""
        settings = self.settings
        settings.server.data_dir.mkdir(parents=True, exist_ok=True)
        await self.db.migrate()
        self._bus = await open_bus(settings.server.redis)

        resource = ResourceStore(self.db, self.clock)
        info = await resource.ensure()
        issuer = TokenIssuer(info.resource_id, info.signing_keys[0], self.clock)
        identity = IdentityService(
            self.db,
            self._bus,
            issuer,
            info.resource_id,
            self.clock,
            settings.identity.user_cache_s,
        )
        await identity.start()
        verifier = TokenVerifier(
            info.resource_id, info.signing_keys, identity, self.clock
        )
        return Services(
            settings=settings,
            clock=self.clock,
            db=self.db,
            bus=self._bus,
            registry=CollectorRegistry(),
            resource_id=info.resource_id,
            resource=resource,
            signing_keys=info.signing_keys,
            tokens=verifier,
            identity=identity,
        )

    def _tls(self) -> TlsFiles:
        server = self.settings.server
        if server.tls_cert is not None and server.tls_key is not None:
            return TlsFiles(cert=server.tls_cert, key=server.tls_key, ca=None)
        extra = [
            h for h in (server.public_host, server.host) if h not in ("0.0.0.0", "::")
        ]
        return ensure_dev_tls(server.data_dir, extra)

    async def start(self) -> Endpoints:
        """Build everything and start listening; returns the bound ports."""
        svc = await self.build()
        app = create_app(svc)
        server = self.settings.server
        tls = self._tls()

        listeners = []
        for port, use_tls in ((server.http_port, False), (server.https_port, True)):
            config = uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                ssl_certfile=str(tls.cert) if use_tls else None,
                ssl_keyfile=str(tls.key) if use_tls else None,
                timeout_graceful_shutdown=int(server.shutdown_grace_s),
            )
            sock = _bind(server.host, port)
            uv = _Server(config)
            self._servers.append(uv)
            self._tasks.append(asyncio.create_task(uv.serve(sockets=[sock])))
            listeners.append(sock.getsockname()[1])
        while not all(s.started for s in self._servers):
            if any(t.done() for t in self._tasks):
                for task in self._tasks:
                    if task.done() and task.exception() is not None:
                        raise RuntimeError(
                            "a listener failed to start"
                        ) from task.exception()
            await asyncio.sleep(0.02)

        self._tasks.append(asyncio.create_task(self._reload_keys(svc.resource)))
        endpoints = Endpoints(http_port=listeners[0], https_port=listeners[1])
        self._announce(endpoints, svc, tls)
        return endpoints

    async def _reload_keys(self, resource: ResourceStore) -> None:
        while True:
            await asyncio.sleep(KEY_RELOAD_S)
            try:
                await resource.load_access_keys()
            except Exception:
                log.exception("could not reread the access keys")

    def _announce(self, endpoints: Endpoints, svc: Services, tls: TlsFiles) -> None:
        server = self.settings.server
        data_dir = server.data_dir
        (data_dir / "ports.json").write_text(
            json.dumps({"http": endpoints.http_port, "https": endpoints.https_port})
        )
        connection = endpoints.connection_string(
            server.public_host, svc.resource.access_keys[0]
        )
        write_private(data_dir / "connection-string", connection + "\n")
        lines = [
            f"Switchboard is listening on https://{server.public_host}:"
            f"{endpoints.https_port} and http://{server.public_host}:"
            f"{endpoints.http_port}",
            f"Resource id: {svc.resource_id}",
            f"Connection string (secret): {data_dir / 'connection-string'}",
        ]
        if tls.ca is not None:
            lines += [
                f"Development CA: {tls.ca}; to trust it, export",
                f"  REQUESTS_CA_BUNDLE={tls.ca} SSL_CERT_FILE={tls.ca} "
                f"NODE_EXTRA_CA_CERTS={tls.ca}",
            ]
        # Printed rather than logged: this is the operator's start-up banner.
        print("\n".join(lines), flush=True)

    def request_stop(self) -> None:
        """Begin a graceful stop: listeners close, open requests may finish."""
        self._stopping.set()
        for uv in self._servers:
            uv.should_exit = True

    async def run(self) -> None:
        """Start, then run until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stopping.wait()
            log.info("stopping")
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop listeners and background work, then close the bus and database."""
        self.request_stop()
        servers = [t for t in self._tasks[: len(self._servers)]]
        await asyncio.gather(*servers, return_exceptions=True)
        for task in self._tasks[len(self._servers) :]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._bus is not None:
            await self._bus.close()
        await self.db.close()
        log.info("stopped")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
