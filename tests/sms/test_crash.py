"""An accepted message survives the node being killed before it reached a carrier."""

from __future__ import annotations

import signal
from functools import partial
from pathlib import Path
from typing import Any

from azure.communication.phonenumbers import PhoneNumberCapabilityType
from azure.communication.sms import SmsClient

from tests.conftest import RunningServer
from tests.sms.conftest import NODE_ENV, buy, handset_messages, wait_until


def on_handset(node: RunningServer, handset: str) -> list[dict[str, Any]] | None:
    return handset_messages(node, handset) or None


def test_messages_accepted_before_a_kill_are_sent_after_the_restart(
    server_factory: type, tmp_path: Path
) -> None:
    data_dir = tmp_path / "node"
    first: RunningServer = server_factory.start(data_dir=data_dir, env=NODE_ENV)
    number = buy(first, PhoneNumberCapabilityType.INBOUND_OUTBOUND)
    first.stop()

    # Without a carrier on this node the messages can only wait in the queue.
    no_carrier = {**NODE_ENV, "SWITCHBOARD_TELEPHONY_VIRTUAL_CARRIER": "false"}
    second: RunningServer = server_factory.start(data_dir=data_dir, env=no_carrier)
    handsets = ["+12065551061", "+12065551062"]
    results = SmsClient.from_connection_string(second.connection_string).send(
        from_=number, to=handsets, message="survived"
    )
    assert [r.http_status_code for r in results] == [202, 202]
    assert second.stop(signal.SIGKILL) == -signal.SIGKILL

    third: RunningServer = server_factory.start(data_dir=data_dir, env=NODE_ENV)
    for handset, result in zip(handsets, results, strict=True):
        [message] = wait_until(
            f"the message on {handset}", partial(on_handset, third, handset)
        )
        assert message["text"] == "survived"
        assert message["switchboardMessageId"] == result.message_id
