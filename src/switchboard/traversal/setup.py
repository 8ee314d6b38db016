"""Builds the traversal capability for the composition root."""

from __future__ import annotations

import ssl

from prometheus_client import CollectorRegistry

from switchboard.config import Settings, TraversalSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import StartupError
from switchboard.identity.service import IdentityService
from switchboard.storage.engine import Database
from switchboard.tls import TlsFiles
from switchboard.traversal.service import RelayService
from switchboard.traversal.store import SecretStore
from switchboard.traversal.turn import TurnServer, TurnSettings


async def build_relay(
    settings: Settings,
    db: Database,
    identity: IdentityService,
    resource_id: str,
    clock: Clock,
) -> RelayService:
    """The relay configuration service, with the deployment's shared secret."""
    secret = await SecretStore(db, clock).ensure()
    return RelayService(
        settings.turn,
        settings.server.public_host,
        secret,
        identity,
        resource_id,
        clock,
    )


def turn_settings(turn: TraversalSettings, secret: str) -> TurnSettings:
    """The TURN server's settings from the `[turn]` section and the secret."""
    return TurnSettings(
        realm=turn.realm,
        listen_host=turn.listen_host,
        udp_port=turn.udp_port,
        tcp_port=turn.tcp_port,
        tls_port=turn.tls_port,
        relay_host=turn.relay_host,
        relay_host_v6=turn.relay_host_v6,
        relay_port_min=turn.relay_port_min,
        relay_port_max=turn.relay_port_max,
        secret=secret.encode(),
        allowed_peers=turn.allowed_peers,
        max_allocations_per_user=turn.max_allocations_per_user,
        max_allocations_total=turn.max_allocations_total,
        bandwidth_bytes_per_s=turn.bandwidth_bytes_per_s,
    )


async def start_turn(
    settings: Settings,
    relay: RelayService,
    tls: TlsFiles,
    registry: CollectorRegistry,
    clock: Clock,
) -> TurnServer | None:
    """Start the STUN/TURN server when the turn role is on; None when it is off."""
    if not settings.turn.enabled:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server = TurnServer(
        turn_settings(settings.turn, relay.secret),
        ssl_context=context,
        registry=registry,
        wall_clock=clock,
    )
    try:
        await server.start()
    except OSError as exc:
        # A port in use: release whichever listeners did bind, then fail the start.
        await server.stop()
        turn = settings.turn
        raise StartupError(
            f"the STUN/TURN server cannot listen on {turn.listen_host} (UDP "
            f"{turn.udp_port}, TCP {turn.tcp_port}, TLS {turn.tls_port}): "
            f"{exc.strerror or exc}; set turn.udp_port, turn.tcp_port and "
            "turn.tls_port (SWITCHBOARD_TURN_UDP_PORT, ...) to free ports, 0 to "
            "pick them, or turn.enabled = false"
        ) from exc
    relay.attach(server.ports)
    return server
