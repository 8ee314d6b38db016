"""The official @azure/communication-identity npm client, under Node, against a node."""

from __future__ import annotations

import pytest

from tests.conftest import RunningServer, run_node_tests


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_npm_identity_client_creates_users_and_tokens(server: RunningServer) -> None:
    run_node_tests(
        "identity.test.mjs",
        passes=6,
        env={"SWITCHBOARD_CONNECTION_STRING": server.connection_string},
    )
