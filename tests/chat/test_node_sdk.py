"""The official @azure/communication-chat npm client, under Node, against a node."""

from __future__ import annotations

import pytest

from tests.conftest import RunningServer, run_node_tests


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_npm_chat_client_runs_a_conversation(server: RunningServer) -> None:
    run_node_tests(
        "chat.test.mjs",
        passes=8,
        env={
            "SWITCHBOARD_CONNECTION_STRING": server.connection_string,
            "SWITCHBOARD_ENDPOINT": server.endpoint,
        },
    )
