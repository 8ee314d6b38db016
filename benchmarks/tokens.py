"""User access tokens issued per second over HTTPS, with N concurrent clients.

Starts a `switchboard serve` on free ports in a temporary data dir (or targets a
running node with `--connection-string`), then, for each concurrency level, runs
that many clients side by side for a fixed time. Each client has its own HTTPS
connection and signs every request with HMAC-SHA256 as the ACS SDKs do (WIRE.md
§1.2). Prints tokens per second and the p50 and p99 latency of each level.

    .venv/bin/python benchmarks/tokens.py --concurrency 1,8,32 --duration 10
    .venv/bin/python benchmarks/tokens.py --database postgresql://postgres@127.0.0.1/db

The client runs on the same machine as the node, so both share its CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import ssl
import statistics
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urlsplit

import httpx
from local_node import local_node

from switchboard.auth.hmac import authorization_header

API_VERSION = "2023-10-01"


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send requests and how to sign and trust them."""

    endpoint: str
    access_key: str
    verify: ssl.SSLContext


@dataclass(slots=True)
class Level:
    """What one concurrency level measured."""

    clients: int
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    failures: int = 0

    def report(self) -> str:
        """One line of results."""
        ok = len(self.latencies_s)
        if ok < 2:
            return f"{self.clients:>7}  {ok:>8}  no successful requests to measure"
        cuts = statistics.quantiles(self.latencies_s, n=100, method="inclusive")
        return (
            f"{self.clients:>7}  {ok:>8}  {ok / self.elapsed_s:>10.1f}  "
            f"{cuts[49] * 1000:>8.2f}  {cuts[98] * 1000:>8.2f}  {self.failures:>6}"
        )


def parse_connection_string(text: str) -> tuple[str, str]:
    """The endpoint (without a trailing slash) and access key of a connection string."""
    fields = dict(part.split("=", 1) for part in text.strip().split(";") if "=" in part)
    return fields["endpoint"].rstrip("/"), fields["accesskey"]


async def signed_post(
    client: httpx.AsyncClient, target: Target, path: str, body: object
) -> httpx.Response:
    """POST a JSON body signed with the access key."""
    payload = json.dumps(body).encode()
    path_and_query = f"{path}?api-version={API_VERSION}"
    host = urlsplit(target.endpoint).netloc
    headers = authorization_header(
        target.access_key,
        "POST",
        path_and_query,
        formatdate(usegmt=True),
        host,
        payload,
    )
    headers["Content-Type"] = "application/json"
    return await client.post(
        target.endpoint + path_and_query, content=payload, headers=headers
    )


async def one_client(
    target: Target, operation: str, stop_at: float, level: Level
) -> None:
    """Issue tokens back to back until the deadline, recording each latency."""
    async with httpx.AsyncClient(verify=target.verify, timeout=30) as client:
        answer = await signed_post(client, target, "/identities", {})
        answer.raise_for_status()
        user_id = answer.json()["identity"]["id"]
        if operation == "create":
            path, body = "/identities", {"createTokenWithScopes": ["chat"]}
        else:
            path, body = (
                f"/identities/{user_id}/:issueAccessToken",
                {"scopes": ["chat"]},
            )

        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            answer = await signed_post(client, target, path, body)
            took = time.perf_counter() - started
            if answer.status_code in (200, 201):
                level.latencies_s.append(took)
            else:
                level.failures += 1


async def run_level(
    target: Target, operation: str, clients: int, duration_s: float
) -> Level:
    """Run `clients` clients side by side for `duration_s` seconds."""
    level = Level(clients)
    started = time.perf_counter()
    stop_at = started + duration_s
    await asyncio.gather(
        *(one_client(target, operation, stop_at, level) for _ in range(clients))
    )
    level.elapsed_s = time.perf_counter() - started
    return level


async def run(target: Target, args: argparse.Namespace) -> None:
    """Warm up, then measure and print each level."""
    await run_level(target, args.operation, 2, args.warmup)
    print(f"{'clients':>7}  {'tokens':>8}  {'tokens/s':>10}  {'p50 ms':>8}  "
          f"{'p99 ms':>8}  {'failed':>6}")  # fmt: skip
    for clients in args.concurrency:
        level = await run_level(target, args.operation, clients, args.duration)
        print(level.report(), flush=True)


def main() -> None:
    """Parse the options, find or start a node, run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency",
        default="1,8,32",
        type=lambda text: [int(part) for part in text.split(",")],
        help="comma-separated client counts (default 1,8,32)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a level")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds first")
    parser.add_argument(
        "--operation",
        choices=["issue", "create"],
        default="issue",
        help="issue: issueAccessToken for an existing user; create: a new user "
        "and its token per request",
    )
    parser.add_argument("--database", help="database URL for the node started here")
    parser.add_argument(
        "--connection-string", help="target this running node instead of starting one"
    )
    parser.add_argument("--ca", help="CA file for --connection-string (PEM)")
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs shared by the "
        f"node and the clients, operation={args.operation}, "
        f"{args.duration:g} s a level"
    )
    if args.connection_string:
        endpoint, key = parse_connection_string(args.connection_string)
        verify = ssl.create_default_context(cafile=args.ca)
        print(f"target: {endpoint}")
        asyncio.run(run(Target(endpoint, key, verify), args))
        return

    with local_node(args.database) as node:
        endpoint, key = parse_connection_string(node.connection_string)
        backend = "postgresql" if args.database else "sqlite"
        print(f"target: a node started here, {endpoint}, {backend}")
        verify = ssl.create_default_context(cafile=str(node.ca))
        asyncio.run(run(Target(endpoint, key, verify), args))


if __name__ == "__main__":
    main()
