"""A `switchboard serve` on free ports in a temporary folder, for the benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

QUIET_AND_UNLIMITED = {
    "SWITCHBOARD_LOG_LEVEL": "warning",
    "SWITCHBOARD_CHAT_USER_REQUESTS": "0",
    "SWITCHBOARD_CHAT_THREAD_REQUESTS": "0",
    # Free ports, so a benchmark never collides with a node already running.
    "SWITCHBOARD_TURN_UDP_PORT": "0",
    "SWITCHBOARD_TURN_TCP_PORT": "0",
    "SWITCHBOARD_TURN_TLS_PORT": "0",
}
"""Benchmark nodes log only warnings and do not rate-limit chat."""


@dataclass(frozen=True, slots=True)
class LocalNode:
    """What a started node wrote into its data folder."""

    data_dir: Path
    connection_string: str
    http_port: int
    https_port: int

    @property
    def ca(self) -> Path:
        """The development CA that signed the node's certificate."""
        return self.data_dir / "ca.pem"

    @property
    def endpoint(self) -> str:
        """The HTTPS endpoint of the connection string."""
        return f"https://localhost:{self.https_port}"

    @property
    def access_key(self) -> str:
        """The primary access key."""
        return self.connection_string.split("accesskey=", 1)[1]


@contextmanager
def local_node(
    database: str | None = None,
    env: dict[str, str] | None = None,
    config: Path | None = None,
) -> Iterator[LocalNode]:
    """Start a node, wait until it answers, stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as folder:
        data_dir = Path(folder)
        argv = [
            sys.executable, "-m", "switchboard", "serve", "--data-dir", str(data_dir),
            "--http-port", "0", "--https-port", "0",
        ]  # fmt: skip
        if database:
            argv += ["--database", database]
        if config is not None:
            argv += ["--config", str(config)]
        child_env = {**os.environ, **QUIET_AND_UNLIMITED, **(env or {})}
        with (data_dir / "serve.log").open("wb") as log:
            node = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=child_env
            )
        try:
            yield _wait_until_ready(data_dir, node)
        finally:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()


def _wait_until_ready(data_dir: Path, node: subprocess.Popen[bytes]) -> LocalNode:
    deadline = time.monotonic() + 60
    while True:
        if node.poll() is not None or time.monotonic() > deadline:
            detail = (data_dir / "serve.log").read_text(errors="replace")
            raise SystemExit(f"switchboard serve did not start:\n{detail}")
        try:
            # ports.json is written last, once everything else is in place.
            ports = json.loads((data_dir / "ports.json").read_text())
            httpx.get(f"http://127.0.0.1:{ports['http']}/healthz").raise_for_status()
        except (OSError, ValueError, httpx.HTTPError):
            time.sleep(0.05)
            continue
        return LocalNode(
            data_dir=data_dir,
            connection_string=(data_dir / "connection-string").read_text().strip(),
            http_port=ports["http"],
            https_port=ports["https"],
        )
