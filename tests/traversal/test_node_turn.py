"""The TURN server inside `switchboard serve`: ports, guard, shared secret, coturn."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from azure.communication.identity import CommunicationIdentityClient
from azure.communication.networktraversal import CommunicationRelayClient

from switchboard.traversal.credentials import TurnCredentials
from tests.conftest import RunningServer, signed
from tests.traversal.test_relay_api import PATH, allocate_with, turn_ports
from tests.traversal.turnclient import TurnClient, error_of, parse_turn_url, relayed

TURNSERVER = shutil.which("turnserver")
LOOPBACK = {"SWITCHBOARD_TURN_ALLOWED_PEERS": "127.0.0.0/8"}


def relay_client(server: RunningServer) -> CommunicationRelayClient:
    return CommunicationRelayClient.from_connection_string(server.connection_string)


async def client_for(server: RunningServer) -> TurnClient:
    """A UDP TURN client holding credentials the node's API issued to a new user."""
    identity = CommunicationIdentityClient.from_connection_string(
        server.connection_string
    )
    user = identity.create_user()
    config = relay_client(server).get_relay_configuration(user=user, ttl=600)
    ice = config.ice_servers[0]
    _, _, port = parse_turn_url(ice.urls[1])
    client = await TurnClient.connect("udp", ("127.0.0.1", port))
    client.credentials = TurnCredentials(ice.username, ice.credential, 0)
    return client


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
    return port


async def test_ports_banner_and_metrics(server: RunningServer) -> None:
    ports = turn_ports(server)
    assert set(ports) == {"udp", "tcp", "tls"}
    assert (
        f"STUN/TURN on localhost (127.0.0.1): udp {ports['udp']}, "
        f"tcp {ports['tcp']}, tls {ports['tls']}"
    ) in server.log()

    client = await client_for(server)
    try:
        assert error_of(await client.allocate()) is None
    finally:
        client.close()
    metrics = httpx.get(f"{server.http_endpoint}/metrics").text
    created = [
        line
        for line in metrics.splitlines()
        if line.startswith("switchboard_turn_allocations_total ")
    ]
    assert created and float(created[0].split()[1]) >= 1


async def test_loopback_peers_are_refused_by_default(server: RunningServer) -> None:
    client = await client_for(server)
    try:
        assert error_of(await client.allocate()) is None
        assert error_of(await client.permit(("127.0.0.1", 9))) == 403
        assert error_of(await client.permit(("169.254.169.254", 80))) == 403
        assert error_of(await client.permit(("10.0.0.1", 9))) == 403
    finally:
        client.close()


async def test_two_clients_relay_through_the_node_when_loopback_is_allowed(
    server_factory: type,
) -> None:
    node: RunningServer = server_factory.start(
        env={
            **LOOPBACK,
            "SWITCHBOARD_TURN_RELAY_PORT_MIN": "47100",
            "SWITCHBOARD_TURN_RELAY_PORT_MAX": "47199",
        }
    )
    alice, bob = await client_for(node), await client_for(node)
    try:
        (a_relay,) = relayed(await alice.allocate())
        (b_relay,) = relayed(await bob.allocate())
        assert 47100 <= a_relay[1] <= 47199 and 47100 <= b_relay[1] <= 47199
        assert error_of(await alice.permit(b_relay)) is None
        assert error_of(await bob.bind(0x4001, a_relay)) is None

        # Bob's ChannelData reaches Alice as a Data indication from his relay.
        bob.send_channel(0x4001, b"over a channel")
        assert await alice.next_data() == ("data", b_relay, b"over a channel")
        alice.send_indication(b_relay, b"over a send indication")
        assert await bob.next_data() == ("channel", 0x4001, b"over a send indication")
    finally:
        alice.close()
        bob.close()


async def test_every_node_shares_the_secret(
    server_factory: type, postgres_url: str
) -> None:
    first: RunningServer = server_factory.start("--database", postgres_url)
    second: RunningServer = server_factory.start("--database", postgres_url)
    secret = (first.data_dir / "turn-secret").read_text()
    assert (second.data_dir / "turn-secret").read_text() == secret

    # Credentials from the first node's API allocate on the second node's server.
    ice = relay_client(first).get_relay_configuration(ttl=60).ice_servers[0]
    other = turn_ports(second)["udp"]
    granted = await allocate_with(
        f"turn:127.0.0.1:{other}?transport=udp", ice.username, ice.credential
    )
    assert len(granted) == 1

    # A restart reads the same secret back from the database.
    first.stop()
    (first.data_dir / "turn-secret").unlink()
    again: RunningServer = server_factory.start(
        "--database", postgres_url, data_dir=first.data_dir
    )
    assert (again.data_dir / "turn-secret").read_text() == secret


@pytest.fixture
async def coturn_port() -> AsyncIterator[tuple[int, Path]]:
    """A free port for a coturn started later, and a folder for its files."""
    with tempfile.TemporaryDirectory() as folder:
        yield free_port(), Path(folder)


async def start_coturn(
    port: int, secret: str, folder: Path
) -> asyncio.subprocess.Process:
    """coturn with the node's secret, as docs/traversal.md tells operators."""
    assert TURNSERVER is not None
    return await asyncio.create_subprocess_exec(
        TURNSERVER,
        "-n",
        "--listening-ip=127.0.0.1",
        f"--listening-port={port}",
        "--relay-ip=127.0.0.1",
        "--min-port=46000",
        "--max-port=46999",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        "--realm=switchboard",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        f"--pidfile={folder}/turnserver.pid",
        f"--userdb={folder}/turndb",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.skipif(TURNSERVER is None, reason="coturn is not installed (apt coturn)")
async def test_external_coturn_shares_the_secret(
    server_factory: type, coturn_port: tuple[int, Path]
) -> None:
    port, folder = coturn_port
    external = (
        f"turn:127.0.0.1:{port}?transport=udp turn:127.0.0.1:{port}?transport=tcp"
    )
    node: RunningServer = server_factory.start(
        env={
            "SWITCHBOARD_TURN_ENABLED": "false",
            "SWITCHBOARD_TURN_EXTERNAL_SERVERS": external,
            "SWITCHBOARD_TURN_MAX_TTL_S": "600",
        }
    )
    assert "turn" not in json.loads((node.data_dir / "ports.json").read_text())
    assert "STUN/TURN on" not in node.log()

    config = relay_client(node).get_relay_configuration(ttl=3600)
    (ice,) = config.ice_servers
    assert ice.urls == external.split()
    # The ttl asked for was cut to turn.max_ttl_s.
    expiry = int(ice.username.split(":")[0])
    assert expiry == int(config.expires_on.timestamp())
    assert 540 <= expiry - time.time() <= 600

    secret = (node.data_dir / "turn-secret").read_text().strip()
    process = await start_coturn(port, secret, folder)
    try:
        for url in ice.urls:
            granted: list[tuple[str, int]] = []
            # coturn may take a while to listen on a busy machine.
            for _ in range(80):
                try:
                    granted = await allocate_with(url, ice.username, ice.credential)
                    break
                except (TimeoutError, ConnectionError):
                    await asyncio.sleep(0.25)
            assert granted and granted[0][0] == "127.0.0.1"
    finally:
        process.terminate()
        await process.wait()


def test_without_any_turn_server_the_api_says_so(server_factory: type) -> None:
    node: RunningServer = server_factory.start(env={"SWITCHBOARD_TURN_ENABLED": "0"})
    answer = signed(node, "POST", PATH, b"{}")
    assert answer.status_code == 503
    assert answer.json()["error"] == {
        "code": "ServiceUnavailable",
        "message": "no TURN server is configured on this node",
    }
