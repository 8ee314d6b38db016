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
from switchboard.calls.core import CoreParts
from switchboard.calls.handlers import register as register_calls
from switchboard.calls.service import CallService
from switchboard.chat.service import ChatService
from switchboard.config import Settings
from switchboard.core.clock import Clock, system_clock
from switchboard.core.errors import StartupError
from switchboard.core.ratelimit import RateLimiter, open_rate_limiter
from switchboard.events.dispatcher import Dispatcher
from switchboard.events.outbox import EventOutbox
from switchboard.events.setup import build_events
from switchboard.identity.service import IdentityService
from switchboard.media.janus import JanusEngine
from switchboard.media.setup import build_media
from switchboard.numbers.inventory import Inventory
from switchboard.numbers.service import NumberService
from switchboard.push.setup import PushParts, build_push
from switchboard.realtime.hub import RealtimeHub, open_event_log
from switchboard.rooms.service import RoomsService
from switchboard.services import Services
from switchboard.sms.sender import SmsSender
from switchboard.sms.setup import build_sms
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.setup import Carriers, build_carriers
from switchboard.tls import TlsFiles, ensure_dev_tls
from switchboard.traversal.setup import build_relay, start_turn
from switchboard.traversal.turn import TurnServer

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
    turn: dict[str, int] | None = None
    """The STUN/TURN ports by transport (udp, tcp, tls); None without the role."""

    def connection_string(self, host: str, key: str) -> str:
        """The connection string a trusted service is given."""
        return f"endpoint=https://{host}:{self.https_port}/;accesskey={key}"


def _bind(host: str, port: int, option: str) -> socket.socket:
    try:
        return _listen(host, port)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another "
            f"--{option.replace('_', '-')} (0 picks a free port)"
        ) from exc


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # asyncio sets TCP_NODELAY on accepted sockets only when proto is IPPROTO_TCP;
    # without it Nagle and delayed ACKs add 40 ms to every keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
        self._realtime: RealtimeHub | None = None
        self._limiter: RateLimiter | None = None
        self._dispatcher: Dispatcher | None = None
        self._turn: TurnServer | None = None
        self._carriers: Carriers | None = None
        self._sms_sender: SmsSender | None = None
        self._push: PushParts | None = None
        self._calls: CallService | None = None
        self._media: JanusEngine | None = None
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
        registry = CollectorRegistry()
        event_log = await open_event_log(
            settings.server.redis, settings.realtime, self.clock
        )
        self._realtime = RealtimeHub(
            settings.realtime, self._bus, event_log, verifier, self.clock, registry
        )
        # After identity.start(): its cache is dropped before the hub rechecks tokens.
        await self._realtime.start()
        events, self._dispatcher = build_events(
            settings, self.db, self._bus, info.resource_id, self.clock, registry
        )
        self._limiter = open_rate_limiter(settings.server.redis)
        # Chat (and calls) notify through this: the hub, then pushes to devices.
        self._push = await build_push(
            settings, self.db, self._bus, self._realtime, self.clock, registry
        )
        chat = ChatService(
            self.db,
            identity,
            self._push.notifier,
            EventOutbox(self._dispatcher.wake),
            self._limiter,
            settings.chat,
            info.resource_id,
            self.clock,
        )
        traversal = await build_relay(
            settings, self.db, identity, info.resource_id, self.clock
        )
        self._carriers = Carriers(
            build_carriers(settings, self.db, self._bus, self.clock)
        )
        numbers = NumberService(
            self.db, Inventory(self._carriers.blocks()), settings.numbers, self.clock
        )
        sms, self._sms_sender = build_sms(
            settings,
            self.db,
            self._bus,
            numbers,
            self._carriers,
            self._limiter,
            EventOutbox(self._dispatcher.wake),
            self.clock,
            registry,
        )
        self._carriers.set_inbound(sms.inbound())
        rooms = RoomsService(
            self.db, self._bus, settings.rooms, info.resource_id, self.clock
        )
        await rooms.start()
        self._media = build_media(settings)
        self._calls = CallService(
            CoreParts(
                self.db,
                self._push.notifier,
                EventOutbox(self._dispatcher.wake),
                self._media,
                settings.calls,
                self.clock,
            ),
            users=identity,
            rooms=rooms,
            traversal=traversal,
            resource_id=info.resource_id,
        )
        register_calls(self._realtime, self._calls)
        return Services(
            settings=settings,
            clock=self.clock,
            db=self.db,
            bus=self._bus,
            registry=registry,
            resource_id=info.resource_id,
            resource=resource,
            signing_keys=info.signing_keys,
            tokens=verifier,
            identity=identity,
            realtime=self._realtime,
            chat=chat,
            events=events,
            traversal=traversal,
            carriers=self._carriers,
            numbers=numbers,
            sms=sms,
            push=self._push.service,
            rooms=rooms,
            calls=self._calls,
            media=self._media,
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
        server = self.settings.server
        # A ports.json left by an earlier run must not be read as this one's.
        (server.data_dir / "ports.json").unlink(missing_ok=True)
        svc = await self.build()
        await svc.carriers.start()
        await svc.media.start()
        app = create_app(svc)
        tls = self._tls()

        listeners = []
        listen = (("http_port", False), ("https_port", True))
        for option, use_tls in listen:
            port = getattr(server, option)
            config = uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                ssl_certfile=str(tls.cert) if use_tls else None,
                ssl_keyfile=str(tls.key) if use_tls else None,
                timeout_graceful_shutdown=int(server.shutdown_grace_s),
                # Realtime frames are small JSON: compressing each one for each
                # connection costs more CPU in a fan-out than it saves in bytes.
                ws_per_message_deflate=False,
            )
            sock = _bind(server.host, port, option)
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
        if self._dispatcher is not None:
            self._dispatcher.base_url = f"https://{server.public_host}:{listeners[1]}"
            await self._dispatcher.start()
        if self._sms_sender is not None:
            await self._sms_sender.start()
        if self._push is not None:
            if not self._push.service.endpoint:
                self._push.service.endpoint = (
                    f"https://{server.public_host}:{listeners[1]}"
                )
            await self._push.sender.start()
        self._turn = await start_turn(
            self.settings, svc.traversal, tls, svc.registry, self.clock
        )
        endpoints = Endpoints(
            http_port=listeners[0],
            https_port=listeners[1],
            turn=self._turn.ports if self._turn is not None else None,
        )
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
        connection = endpoints.connection_string(
            server.public_host, svc.resource.access_keys[0]
        )
        write_private(data_dir / "connection-string", connection + "\n")
        # For operators pointing coturn's static-auth-secret at the same secret.
        write_private(data_dir / "turn-secret", svc.traversal.secret + "\n")
        # Last, because tools wait for this file to know the node is up.
        ports: dict[str, object] = {
            "http": endpoints.http_port,
            "https": endpoints.https_port,
        }
        if endpoints.turn is not None:
            ports["turn"] = endpoints.turn
        # Written whole and renamed, so a reader never sees half a file.
        staged = data_dir / "ports.json.tmp"
        staged.write_text(json.dumps(ports))
        staged.replace(data_dir / "ports.json")
        lines = [
            f"Switchboard is listening on https://{server.public_host}:"
            f"{endpoints.https_port} and http://{server.public_host}:"
            f"{endpoints.http_port}",
            f"Resource id: {svc.resource_id}",
            f"Connection string (secret): {data_dir / 'connection-string'}",
        ]
        if endpoints.turn is not None:
            lines.insert(1, _turn_banner(self.settings, endpoints.turn))
        lines.append(f"TURN shared secret (secret): {data_dir / 'turn-secret'}")
        if tls.ca is not None:
            ca = tls.ca.resolve()
            lines += [
                f"Development CA: {ca}; to trust it, export",
                f"  REQUESTS_CA_BUNDLE={ca} SSL_CERT_FILE={ca} "
                f"NODE_EXTRA_CA_CERTS={ca}",
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

    async def _drain(self) -> None:
        """Let requests under way finish, then close idle connections at once.

        uvicorn would otherwise wait for every kept-alive TLS connection to
        finish its close handshake, which an idle client never does.
        """
        grace = self.settings.server.shutdown_grace_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline and any(
            uv.server_state.tasks for uv in self._servers
        ):
            await asyncio.sleep(0.05)
        for uv in self._servers:
            uv.force_exit = True

    async def stop(self) -> None:
        """Stop listeners and background work, then close the bus and database."""
        self.request_stop()
        if self._calls is not None:
            await self._calls.stop()
        if self._media is not None:
            await self._media.stop()
        if self._realtime is not None:
            await self._realtime.stop()
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        if self._turn is not None:
            await self._turn.stop()
        if self._sms_sender is not None:
            await self._sms_sender.stop()
        if self._push is not None:
            await self._push.sender.stop()
            await self._push.presence.stop()
        if self._carriers is not None:
            await self._carriers.stop()
        await self._drain()
        servers = self._tasks[: len(self._servers)]
        await asyncio.gather(*servers, return_exceptions=True)
        for task in self._tasks[len(self._servers) :]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._limiter is not None:
            await self._limiter.close()
        if self._bus is not None:
            await self._bus.close()
        await self.db.close()
        log.info("stopped")


def _turn_banner(settings: Settings, ports: dict[str, int]) -> str:
    host = settings.turn.public_host or settings.server.public_host
    listening = ", ".join(f"{kind} {port}" for kind, port in ports.items())
    return f"STUN/TURN on {host} ({settings.turn.listen_host}): {listening}"


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
