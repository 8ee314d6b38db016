"""Fixtures shared by the whole suite: real `switchboard serve` processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from switchboard.storage.engine import Database
from switchboard.tls import ensure_dev_tls

# One development CA for the whole run, trusted the way the README says, before
# any HTTP client library is imported by a test module.
_CA_HOME = Path(tempfile.mkdtemp(prefix="switchboard-ca-"))
CA_FILE = ensure_dev_tls(_CA_HOME, []).ca
assert CA_FILE is not None
for _name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
    os.environ[_name] = str(CA_FILE)

POSTGRES_ADMIN = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class RunningServer:
    """A `switchboard serve` child process and what it announced."""

    data_dir: Path
    args: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    http_port: int = 0
    https_port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def connection_string(self) -> str:
        """The connection string the server wrote."""
        return (self.data_dir / "connection-string").read_text().strip()

    @property
    def access_key(self) -> str:
        """The primary access key in the connection string."""
        return self.connection_string.split("accesskey=", 1)[1]

    @property
    def endpoint(self) -> str:
        """The HTTPS endpoint."""
        return f"https://localhost:{self.https_port}"

    @property
    def http_endpoint(self) -> str:
        """The plain HTTP endpoint."""
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> RunningServer:
    """Start a node on free ports with the test CA and wait until it answers."""
    tls_dir = data_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    for name in ("ca.pem", "ca-key.pem"):
        if not (tls_dir / name).exists():
            shutil.copy(_CA_HOME / "tls" / name, tls_dir / name)
    ports_file = data_dir / "ports.json"
    ports_file.unlink(missing_ok=True)

    argv = [
        sys.executable, "-m", "switchboard", "serve",
        "--data-dir", str(data_dir), "--http-port", "0", "--https-port", "0",
        *args,
    ]  # fmt: skip
    log_path = data_dir / f"serve-{uuid.uuid4().hex[:6]}.log"
    # Several nodes run at once here, so their TURN listeners take free ports too.
    turn_ports = {f"SWITCHBOARD_TURN_{t}_PORT": "0" for t in ("UDP", "TCP", "TLS")}
    # No embedded Janus unless a test asks for one (media tests run in a namespace).
    media_off = {"SWITCHBOARD_MEDIA_EMBEDDED": "off"}
    child_env = {**os.environ, **turn_ports, **media_off, **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=child_env
        )
    server = RunningServer(data_dir, list(args), process, log_path, env=env or {})

    deadline = time.monotonic() + 60
    while not ports_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"switchboard serve did not start:\n{server.log()}")
        time.sleep(0.05)
    ports = json.loads(ports_file.read_text())
    server.http_port, server.https_port = ports["http"], ports["https"]
    httpx.get(f"{server.http_endpoint}/healthz", timeout=5).raise_for_status()
    return server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[RunningServer]]:
    """Start servers on demand; all are stopped at the end of the test."""
    started: list[RunningServer] = []

    class Factory:
        @staticmethod
        def start(
            *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
        ) -> RunningServer:
            folder = data_dir or tmp_path / f"node-{len(started)}"
            server = start_server(folder, *args, env=env)
            started.append(server)
            return server

    yield Factory  # type: ignore[misc]
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def new_postgres_database() -> Iterator[Callable[[], str]]:
    """Make fresh PostgreSQL databases on demand; all are dropped at the end.

    Every group of nodes gets a database of its own: nodes sharing one also
    share the work queued in it (events, SMS, reports), so a node started with
    other settings could take work a test meant for its own nodes.
    """
    import asyncio

    import asyncpg

    made: list[str] = []

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def make() -> str:
        name = f"switchboard_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"

    yield make
    for name in made:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(new_postgres_database: Callable[[], str]) -> str:
    """A PostgreSQL database for this test's nodes alone."""
    return new_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this test's own: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    plain: str = request.getfixturevalue("postgres_url")
    return "postgresql+asyncpg://" + plain.split("://", 1)[1]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated database at `database_url`, for tests of one store."""
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One long-running node per database backend, shared by the tests."""
    args: list[str] = []
    if request.param == "postgresql":
        args = ["--database", request.getfixturevalue("new_postgres_database")()]
    node = start_server(tmp_path_factory.mktemp(f"shared-{request.param}"), *args)
    yield node
    node.stop()


def signed(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send a request signed the way the ACS SDKs sign it, over HTTPS."""
    from email.utils import formatdate

    from switchboard.auth.hmac import authorization_header

    host = f"localhost:{server.https_port}"
    date = formatdate(usegmt=True)
    auth = authorization_header(
        key or server.access_key, method, path, date, host, body
    )
    return httpx.request(
        method,
        f"https://{host}{path}",
        content=body,
        headers={"Content-Type": "application/json", **auth, **(headers or {})},
        timeout=10,
    )


NODE_TESTS = Path(__file__).resolve().parent / "node"


def run_node_tests(script: str, passes: int, env: dict[str, str]) -> None:
    """Run one `node --test` file of tests/node and require every case to pass."""
    node = shutil.which("node")
    assert node is not None, "Node.js is not installed (scripts/test installs it)"
    assert (NODE_TESTS / "node_modules" / "@azure").is_dir(), (
        "run `npm ci` in tests/node (scripts/test does)"
    )
    # NODE_EXTRA_CA_CERTS, set above, makes Node trust the test CA.
    result = subprocess.run(
        [node, "--test", script],
        cwd=NODE_TESTS,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test failed:\n{output}"
    assert f"# pass {passes}" in result.stdout, output
    assert "# fail 0" in result.stdout, output


NETNS_ADDRESS = os.environ.get("SWITCHBOARD_TEST_NETNS", "")
"""The test address inside the network namespace of scripts/netns, or ''."""

NETNS_MEDIA_ENV = {
    "SWITCHBOARD_MEDIA_EMBEDDED": "on",
    "SWITCHBOARD_MEDIA_API_HOST": NETNS_ADDRESS,
    "SWITCHBOARD_MEDIA_ICE_ADDRESSES": NETNS_ADDRESS,
}
"""A node's environment for an embedded Janus on the namespace's address."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Media tests need the namespace of scripts/netns; elsewhere they are skipped."""
    if NETNS_ADDRESS:
        return
    skip = pytest.mark.skip(
        reason="needs a network namespace of its own: scripts/netns .venv/bin/pytest "
        "-m netns"
    )
    for item in items:
        if item.get_closest_marker("netns") is not None:
            item.add_marker(skip)
