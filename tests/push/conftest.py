"""Fixtures of the push tests: the local providers and a node that uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.tls import ensure_dev_tls
from tests.conftest import CA_FILE, RunningServer, start_server
from tests.push.providers import Providers

API = "api-version=2026-12-01"
REGISTRATIONS = "/switchboard/v1/push/registrations"


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Providers]:
    """APNs, FCM, WNS and Web Push on one local HTTPS port (test CA)."""
    tls = ensure_dev_tls(CA_FILE.parent, [])
    fakes = Providers(Path(tmp_path_factory.mktemp("providers")), tls.cert, tls.key)
    fakes.start()
    yield fakes
    fakes.stop()


@pytest.fixture(scope="module")
def push_node(
    providers: Providers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A node with every push provider configured to the local endpoints."""
    node = start_server(
        Path(tmp_path_factory.mktemp("push-node")), env=providers.node_env()
    )
    yield node
    node.stop()


def register(node: RunningServer, token: str, body: dict[str, Any]) -> httpx.Response:
    """POST a registration with a user token."""
    return httpx.post(
        f"{node.http_endpoint}{REGISTRATIONS}?{API}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def call(
    node: RunningServer,
    method: str,
    token: str,
    path: str = "",
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """Any registration request with a user token."""
    return httpx.request(
        method,
        f"{node.http_endpoint}{REGISTRATIONS}{path}?{API}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
