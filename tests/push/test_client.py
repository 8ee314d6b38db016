"""The Python client's push calls against a node."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import pytest

from switchboard.client import PushClient, PushError
from tests.conftest import RunningServer
from tests.push.providers import Providers
from tests.realtime.support import new_user


async def test_the_client_registers_refreshes_lists_and_removes(
    push_node: RunningServer, providers: Providers
) -> None:
    _, token = await new_user(push_node, ("voip",))
    _, subscription = providers.web_push_subscription()
    keys = subscription["keys"]
    assert isinstance(keys, dict)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)

    async with PushClient(
        push_node.endpoint, token, verify=ssl.create_default_context()
    ) as push:
        phone = await push.register_device("apns-voip", "0a" * 32, "ios")
        browser = await push.register_web_push(
            str(subscription["endpoint"]), keys["p256dh"], keys["auth"]
        )
        refreshed = await push.refresh_registration(phone.id, expires_on=later)
        listed = await push.list_registrations()
        await push.remove_registration(browser.id)
        left = await push.list_registrations()
        vapid = await push.vapid_public_key()
        with pytest.raises(PushError) as refused:
            await push.register_device("fcm", "short", "android")
        with pytest.raises(PushError) as missing:
            await push.get_registration(browser.id)

    assert phone.platform == "apns-voip" and phone.device_token == "0a" * 32
    assert browser.endpoint == subscription["endpoint"]
    assert browser.device_token is None
    assert refreshed.expires_on == later.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert [r.id for r in listed] == [phone.id, browser.id]
    assert [r.id for r in left] == [phone.id]
    assert len(vapid) == 87
    assert (refused.value.status, refused.value.code, refused.value.target) == (
        400,
        "InvalidRequestBody",
        "deviceToken",
    )
    assert (missing.value.status, missing.value.code) == (404, "NotFound")
