"""Relay throughput of Switchboard's TURN server against coturn, on loopback.

Runs the same ``turnutils_uclient`` load (channels over UDP, echoed by
``turnutils_peer``) against each server in its own process and prints
relayed packets per second and server CPU seconds per million relayed
packets, then the ratio. It prints numbers and asserts nothing.

    python benchmarks/turn_relay.py [--clients 20] [--messages 2000] [--size 120]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

SECRET = "benchmark-secret"

OUR_SERVER = """
import asyncio, sys
from switchboard.traversal import TurnServer, TurnSettings

async def main() -> None:
    port = int(sys.argv[1])
    settings = TurnSettings(
        udp_port=port, tcp_port=port, secret=sys.argv[2].encode(),
        allowed_peers=("127.0.0.0/8",), relay_port_min=46000, relay_port_max=46999,
        max_allocations_per_user=10000, max_allocations_total=10000,
        unauthenticated_replies_per_s=0,
    )
    server = TurnServer(settings)
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@dataclass
class Result:
    """One server's figures."""

    name: str
    relayed: int
    seconds: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        """Relayed packets per wall-clock second."""
        return self.relayed / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_million(self) -> float:
        """Server CPU seconds per million relayed packets."""
        return self.cpu_s / self.relayed * 1e6 if self.relayed else float("nan")


def free_port() -> int:
    """A UDP and TCP port free on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def load(port: int, peer_port: int, args: argparse.Namespace) -> tuple[int, float]:
    """Run uclient once; (messages echoed back, seconds taken)."""
    started = time.monotonic()
    output = subprocess.run(
        [
            "turnutils_uclient",
            "-W",
            SECRET,
            "-u",
            "bench",
            "-e",
            "127.0.0.1",
            "-r",
            str(peer_port),
            "-p",
            str(port),
            "-m",
            str(args.clients),
            "-n",
            str(args.messages),
            "-l",
            str(args.size),
            "-z",
            str(args.interval_ms),
            "-c",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    ).stdout
    seconds = time.monotonic() - started
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)$", output, re.M)
    received = int(totals[-1][1]) if totals else 0
    return received, seconds


def measure(
    name: str,
    server: subprocess.Popen[str],
    port: int,
    peer: int,
    args: argparse.Namespace,
) -> Result:
    """CPU and throughput of one server under the load."""
    before = cpu_seconds(server.pid)
    received, seconds = load(port, peer, args)
    cpu = cpu_seconds(server.pid) - before
    # Every echoed message crossed the relay twice: out to the peer and back.
    return Result(name, 2 * received, seconds, cpu)


def main() -> None:
    """Run both servers and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=120)
    parser.add_argument("--interval-ms", type=int, default=1)
    args = parser.parse_args()
    for tool in ("turnutils_uclient", "turnutils_peer", "turnserver"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install Debian's coturn package")

    peer_port = free_port()
    peer = subprocess.Popen(
        ["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[Result] = []
    try:
        # Switchboard.
        port = free_port()
        ours = subprocess.Popen(
            [sys.executable, "-c", OUR_SERVER, str(port), SECRET],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert ours.stdout is not None
            ours.stdout.readline()
            results.append(measure("switchboard", ours, port, peer_port, args))
        finally:
            ours.terminate()
            ours.wait()

        # coturn, one relay thread for a like-for-like single-core comparison.
        port = free_port()
        with tempfile.TemporaryDirectory() as folder:
            coturn = subprocess.Popen(
                [
                    "turnserver",
                    "-n",
                    "--listening-ip=127.0.0.1",
                    f"--listening-port={port}",
                    "--relay-ip=127.0.0.1",
                    "--min-port=47000",
                    "--max-port=47999",
                    "--use-auth-secret",
                    f"--static-auth-secret={SECRET}",
                    "--realm=switchboard",
                    "--allow-loopback-peers",
                    "--no-cli",
                    "--no-tls",
                    "--no-dtls",
                    "--relay-threads=1",
                    "--log-file=stdout",
                    f"--pidfile={folder}/pid",
                    f"--userdb={folder}/db",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                time.sleep(1.0)
                results.append(measure("coturn", coturn, port, peer_port, args))
            finally:
                coturn.terminate()
                coturn.wait()
    finally:
        peer.terminate()
        peer.wait()

    print(
        f"load: {args.clients} clients x {args.messages} messages of {args.size} "
        f"bytes, {args.interval_ms} ms apart, UDP channels"
    )
    for r in results:
        print(
            f"{r.name:12} relayed {r.relayed:9d} packets in {r.seconds:6.2f} s: "
            f"{r.per_second:10.0f} packets/s, "
            f"{r.cpu_per_million:8.2f} CPU s per million packets"
        )
    if len(results) == 2 and results[1].relayed and results[0].relayed:
        ours_r, theirs = results
        speed = ours_r.per_second / theirs.per_second
        cost = ours_r.cpu_per_million / theirs.cpu_per_million
        print(
            f"ratio switchboard/coturn: throughput {speed:.2f}, "
            f"CPU per packet {cost:.2f}"
        )


if __name__ == "__main__":
    main()
