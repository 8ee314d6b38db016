"""Webhook targets: the address guard, canonical forms, pinning, allow-listing."""

from __future__ import annotations

import pytest

from switchboard.core.netguard import PeerGuard
from switchboard.events.webhook import TargetRefused, WebhookClient


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://[::ffff:7f00:1]/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
        ("http://0x7f.1/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://100.64.0.1/hook", "CGNAT"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[64:ff9b::a00:1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
    ],
)
async def test_private_and_special_targets_are_refused(url: str, reason: str) -> None:
    client = WebhookClient(PeerGuard(), timeout_s=1)
    with pytest.raises(TargetRefused) as caught:
        await client.pin(url)
    assert "which is refused" in str(caught.value)
    assert reason in str(caught.value)
    await client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "must be an http or https URL"),
        ("http:///x", "has no host"),
        ("https://user:secret@203.0.113.9/", "must not carry credentials"),
        ("http://203.0.113.9:99999/", "invalid port"),
    ],
)
async def test_malformed_targets_are_refused(url: str, message: str) -> None:
    client = WebhookClient(PeerGuard(), timeout_s=1)
    with pytest.raises(TargetRefused, match=message):
        await client.pin(url)
    await client.close()


async def test_a_public_address_is_pinned_with_host_and_server_name() -> None:
    client = WebhookClient(PeerGuard(), timeout_s=1)
    pinned = await client.pin("https://8.8.8.8:8443/events?x=1")
    assert pinned.url == "https://8.8.8.8:8443/events?x=1"
    assert pinned.host_header == "8.8.8.8:8443"
    assert pinned.server_name == "8.8.8.8"
    await client.close()


async def test_allow_listing_opens_exactly_the_listed_networks() -> None:
    allowed = PeerGuard(allowed=["127.0.0.0/8", "::1/128"])
    client = WebhookClient(allowed, timeout_s=1)
    pinned = await client.pin("http://localhost:8080/hook")
    assert pinned.url in ("http://127.0.0.1:8080/hook", "http://[::1]:8080/hook")
    assert pinned.host_header == "localhost:8080"
    assert (await client.pin("http://127.0.0.2/h")).url == "http://127.0.0.2:80/h"
    with pytest.raises(TargetRefused, match="private"):
        await client.pin("http://10.0.0.1/hook")
    await client.close()
