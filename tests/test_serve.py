"""`switchboard serve` as an operator sees it: files, banner, TLS, logs, signals."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

from switchboard.tls import ensure_dev_tls
from tests.conftest import CA_FILE, RunningServer


def test_first_start_writes_what_the_readme_promises(server_factory: type) -> None:
    server: RunningServer = server_factory.start()
    files = {p.name for p in server.data_dir.iterdir()}
    assert {"ports.json", "connection-string", "ca.pem", "switchboard.db"} <= files
    assert (server.data_dir / "connection-string").stat().st_mode & 0o077 == 0
    assert server.connection_string == (
        f"endpoint=https://localhost:{server.https_port}/;accesskey={server.access_key}"
    )
    banner = server.log()
    assert f"https://localhost:{server.https_port}" in banner
    assert "REQUESTS_CA_BUNDLE=" in banner and "NODE_EXTRA_CA_CERTS=" in banner
    assert server.access_key not in banner


def test_https_is_verified_by_the_dev_ca_for_every_local_name(
    server_factory: type,
) -> None:
    server: RunningServer = server_factory.start()
    for host in ("localhost", "127.0.0.1"):
        answer = httpx.get(f"https://{host}:{server.https_port}/healthz", verify=True)
        assert answer.status_code == 200
    context = ssl.create_default_context(cafile=str(CA_FILE))
    answer = httpx.get(f"https://localhost:{server.https_port}/healthz", verify=context)
    assert answer.json() == {"status": "ok"}


def test_operator_certificates_replace_the_generated_ones(
    server_factory: type, tmp_path: Path
) -> None:
    # A certificate from another CA, standing in for the operator's own.
    operator = ensure_dev_tls(tmp_path / "operator", ["switchboard.test"])
    server: RunningServer = server_factory.start(
        "--tls-cert",
        str(tmp_path / "operator" / "tls" / "server.pem"),
        "--tls-key",
        str(tmp_path / "operator" / "tls" / "server-key.pem"),
    )
    assert operator.ca is not None
    trusting_operator = ssl.create_default_context(cafile=str(operator.ca))
    url = f"https://localhost:{server.https_port}/healthz"
    assert httpx.get(url, verify=trusting_operator).status_code == 200
    try:
        httpx.get(url, verify=ssl.create_default_context(cafile=str(CA_FILE)))
    except httpx.ConnectError as exc:
        assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
    else:
        raise AssertionError("the generated certificate is still served")


def test_json_logs_are_one_object_per_line(server_factory: type) -> None:
    server: RunningServer = server_factory.start("--json-logs")
    httpx.get(f"{server.http_endpoint}/healthz")
    server.stop()
    records = [
        json.loads(line) for line in server.log().splitlines() if line.startswith("{")
    ]
    access = [r for r in records if r.get("logger") == "switchboard.access"]
    assert access and access[0]["level"] == "info"
    assert "GET /healthz 200" in access[0]["event"]


def test_sigint_and_sigterm_stop_cleanly(server_factory: type) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        server: RunningServer = server_factory.start()
        assert server.stop(sig) == 0
        assert "stopped" in server.log()


def test_bad_configuration_stops_with_the_option_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--data-dir", str(tmp_path)],
        env={"SWITCHBOARD_HTTP_PORT": "99999", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "server.http_port" in result.stderr


def test_help_lists_every_serve_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0
    for flag in (
        "--data-dir", "--host", "--http-port", "--https-port", "--database",
        "--redis", "--tls-cert", "--tls-key", "--json-logs", "--config",
    ):  # fmt: skip
        assert flag in result.stdout


FREE_TURN_PORTS = {f"SWITCHBOARD_TURN_{t}_PORT": "0" for t in ("UDP", "TCP", "TLS")}


def test_a_port_in_use_is_named_with_the_option_to_change(
    server_factory: type, tmp_path: Path
) -> None:
    running: RunningServer = server_factory.start()
    (tmp_path / "ports.json").write_text('{"http": 1, "https": 2}')
    result = subprocess.run(
        [
            sys.executable, "-m", "switchboard", "serve", "--data-dir", str(tmp_path),
            "--http-port", "0", "--https-port", str(running.https_port),
        ],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, **FREE_TURN_PORTS},
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        f"switchboard: cannot listen on 127.0.0.1:{running.https_port}: Address "
        "already in use; choose another --https-port (0 picks a free port)"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    # The stale ports.json of an earlier run is gone, not left to mislead tools.
    assert not (tmp_path / "ports.json").exists()
