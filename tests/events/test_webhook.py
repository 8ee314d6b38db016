"""Webhook targets: the address guard, canonical forms, pinning, allow-listing, DNS."""

from __future__ import annotations

import asyncio
import socket
from typing import NoReturn

import pytest

from switchboard.core.netguard import PeerGuard
from switchboard.events.webhook import (
    TargetRefused,
    TargetUnresolved,
    WebhookClient,
    target_error,
)


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


def _failing_resolver(monkeypatch: pytest.MonkeyPatch, code: int, message: str) -> None:
    """Make this loop's resolver answer with the given getaddrinfo error."""

    async def fail(*args: object, **kwargs: object) -> NoReturn:
        raise socket.gaierror(code, message)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fail)


async def test_a_name_dns_cannot_look_up_now_is_a_temporary_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = WebhookClient(PeerGuard(), timeout_s=1)
    _failing_resolver(monkeypatch, socket.EAI_AGAIN, "Temporary failure")
    with pytest.raises(TargetUnresolved) as caught:
        await client.pin("https://hooks.example.com/in")
    assert caught.value.temporary
    error = target_error(caught.value, "targetUrl")
    assert (error.status, error.code, error.target) == (
        503,
        "ServiceUnavailable",
        "targetUrl",
    )
    assert error.headers == {"Retry-After": "10"}
    assert "cannot resolve hooks.example.com" in error.message
    await client.close()


async def test_a_name_that_does_not_exist_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = WebhookClient(PeerGuard(), timeout_s=1)
    _failing_resolver(monkeypatch, socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(TargetUnresolved) as caught:
        await client.pin("https://no-such-host.example.com/in")
    assert not caught.value.temporary
    error = target_error(caught.value, "targetUrl")
    assert (error.status, error.target) == (400, "targetUrl")
    assert error.message.startswith("targetUrl is refused: cannot resolve")
    await client.close()
