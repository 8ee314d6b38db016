"""Interoperability with clients and servers nobody here wrote.

coturn's ``turnutils_uclient`` and ``turnserver`` (Debian package ``coturn``)
and aioice's TURN client. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from switchboard.traversal import TurnCredentials, TurnServer, issue_credentials
from tests.traversal.conftest import SECRET, ServerFactory
from tests.traversal.turnclient import Peer

UCLIENT = shutil.which("turnutils_uclient")
PEER = shutil.which("turnutils_peer")
TURNSERVER = shutil.which("turnserver")
needs_coturn = pytest.mark.skipif(
    UCLIENT is None or PEER is None,
    reason="coturn's turnutils_uclient/turnutils_peer not installed (apt coturn)",
)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(
    *args: str, timeout: float = 40.0, stop_after: float | None = None
) -> tuple[int, str]:
    """Run a program to completion; its exit code and combined output.

    With ``stop_after`` the program is stopped then (exit code -1), for
    clients that retry forever when refused.
    """
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), stop_after or timeout)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        if stop_after is None:
            raise
        return -1, output.decode(errors="replace")
    return process.returncode or 0, output.decode(errors="replace")


def uclient_args(
    port: int, messages: int, auth: list[str], peer: int | None, *flags: str
) -> list[str]:
    """turnutils_uclient's arguments: flags, credentials, peer, server port, count."""
    args = [*flags, *auth]
    if peer is not None:
        args += ["-e", "127.0.0.1", "-r", str(peer)]
    return [*args, "-p", str(port), "-n", str(messages), "127.0.0.1"]


def secret_auth(secret: str) -> list[str]:
    """Shared-secret credentials computed by uclient itself (`-W`)."""
    return ["-W", secret, "-u", "alice"]


def password_auth(credentials: TurnCredentials) -> list[str]:
    """Explicit long-term credentials."""
    return ["-u", credentials.username, "-w", credentials.password]


@pytest.fixture
async def coturn_peer() -> AsyncIterator[int]:
    """coturn's echoing UDP peer on 127.0.0.1; yields its port."""
    assert PEER is not None
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        PEER,
        "-L",
        "127.0.0.1",
        "-p",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.3)
    yield port
    process.terminate()
    await process.wait()


def assert_no_loss(output: str, messages: int) -> None:
    """uclient's summary shows every message sent and echoed back."""
    lost = re.search(r"Total lost packets (\d+)", output)
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)$", output, re.M)
    assert lost is not None and totals, output[-2000:]
    assert int(lost.group(1)) == 0, output[-2000:]
    assert totals[-1] == (str(messages), str(messages)), output[-2000:]


UCLIENT_MODES = {
    "udp-channels": [],
    "udp-send-indications": ["-s"],
    "tcp-channels": ["-t"],
    "tcp-send-indications": ["-t", "-s"],
    "tls-channels": ["-t", "-S"],
    "udp-padded-channels-dont-fragment": ["-D", "-g"],
}


@needs_coturn
@pytest.mark.parametrize("mode", list(UCLIENT_MODES))
async def test_uclient_relays_without_loss(
    make_server: ServerFactory, coturn_peer: int, mode: str
) -> None:
    server = await make_server()
    flags = UCLIENT_MODES[mode]
    port = server.ports["tls" if "-S" in flags else "tcp" if "-t" in flags else "udp"]
    assert UCLIENT is not None
    args = uclient_args(
        port, 30, secret_auth(SECRET.decode()), coturn_peer, *flags, "-m", "2",
        "-z", "5",
    )  # fmt: skip
    code, output = await run(UCLIENT, *args)
    assert code == 0, output[-2000:]
    # Two clients (each with RTP and RTCP allocations), 30 messages each.
    assert_no_loss(output, 60)
    assert server.registry.get_sample_value(
        "switchboard_turn_relayed_packets_total", {"direction": "to_peer"}
    )


@needs_coturn
async def test_uclient_client_to_client_mode(make_server: ServerFactory) -> None:
    server = await make_server()
    assert UCLIENT is not None
    args = uclient_args(
        server.ports["udp"], 30, secret_auth(SECRET.decode()), None, "-y", "-z", "5"
    )
    code, output = await run(UCLIENT, *args)
    assert code == 0, output[-2000:]
    assert_no_loss(output, 120)


@needs_coturn
async def test_uclient_with_explicit_username_and_password(
    make_server: ServerFactory, coturn_peer: int
) -> None:
    server = await make_server()
    credentials = issue_credentials(SECRET, "dave", 600, time.time())
    assert UCLIENT is not None
    args = uclient_args(
        server.ports["udp"], 20, password_auth(credentials), coturn_peer, "-z", "5"
    )
    code, output = await run(UCLIENT, *args)
    assert code == 0, output[-2000:]
    assert_no_loss(output, 40)


@needs_coturn
async def test_uclient_wrong_password_is_refused(
    make_server: ServerFactory, coturn_peer: int
) -> None:
    server = await make_server()
    assert UCLIENT is not None
    args = uclient_args(
        server.ports["udp"], 5, secret_auth("not-the-secret"), coturn_peer
    )
    code, output = await run(UCLIENT, *args, stop_after=3.0)
    assert code != 0
    assert "Total lost packets" not in output
    assert server.registry.get_sample_value(
        "switchboard_turn_auth_failures_total", {"reason": "wrong_password"}
    )


@needs_coturn
async def test_uclient_negative_tests_get_the_expected_400(
    make_server: ServerFactory, coturn_peer: int
) -> None:
    # uclient -N binds one peer to a second channel number and expects 400;
    # it then exits non-zero by design (coturn's own server does the same).
    server = await make_server()
    assert UCLIENT is not None
    args = uclient_args(
        server.ports["udp"], 5, secret_auth(SECRET.decode()), coturn_peer, "-N"
    )
    _, output = await run(UCLIENT, *args)
    assert "channel bind: error 400" in output, output[-2000:]


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_aioice_turn_client_allocates_and_relays(
    make_server: ServerFactory, transport: str
) -> None:
    aioice_turn = pytest.importorskip("aioice.turn")
    server: TurnServer = await make_server()
    credentials = issue_credentials(SECRET, "erin", 600, time.time())
    endpoint, protocol = await aioice_turn.create_turn_endpoint(
        _Collect,
        server_addr=("127.0.0.1", server.ports[transport]),
        username=credentials.username,
        password=credentials.password,
        transport=transport,
    )
    peer = await Peer.open()
    try:
        relay = endpoint.get_extra_info("sockname")
        assert relay[0] == "127.0.0.1"
        for i in range(5):
            endpoint.sendto(b"ping %d" % i, peer.address)
            data, source = await peer.receive()
            assert data == b"ping %d" % i
            assert source == (relay[0], relay[1])
            peer.send(b"pong %d" % i, source)
            reply, sender = await asyncio.wait_for(protocol.queue.get(), 2)
            assert reply == b"pong %d" % i
            assert (sender[0], sender[1]) == peer.address
    finally:
        endpoint.close()
        peer.close()
        await asyncio.sleep(0.05)


@pytest.mark.skipif(
    TURNSERVER is None or UCLIENT is None or PEER is None,
    reason="coturn's turnserver/turnutils not installed (apt coturn)",
)
async def test_coturn_accepts_our_issued_credentials(coturn_peer: int) -> None:
    assert TURNSERVER is not None and UCLIENT is not None
    port = free_port(socket.SOCK_STREAM)
    with tempfile.TemporaryDirectory() as folder:
        process = await asyncio.create_subprocess_exec(
            TURNSERVER,
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--relay-ip=127.0.0.1",
            "--min-port=45000",
            "--max-port=45999",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET.decode()}",
            "--realm=switchboard",
            "--allow-loopback-peers",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            f"--pidfile={folder}/turnserver.pid",
            f"--userdb={folder}/turndb",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(1.0)
            good = issue_credentials(SECRET, "frank", 600, time.time())
            args = uclient_args(port, 20, password_auth(good), coturn_peer, "-z", "5")
            code, output = await run(UCLIENT, *args)
            assert code == 0, output[-2000:]
            assert_no_loss(output, 40)

            # An expired credential of ours is refused by coturn too.
            old = issue_credentials(SECRET, "frank", 60, time.time() - 3600)
            args = uclient_args(port, 5, password_auth(old), coturn_peer)
            code, output = await run(UCLIENT, *args, stop_after=3.0)
            assert code != 0
            assert "Total lost packets" not in output
        finally:
            process.terminate()
            await process.wait()
