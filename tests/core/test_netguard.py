"""The peer address guard, including IPv4 hidden inside IPv6."""

from __future__ import annotations

import ipaddress

import pytest

from switchboard.core.netguard import PeerGuard, embedded_ipv4


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "CGNAT"),
        ("169.254.10.10", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
    ],
)
def test_refused_ranges(host: str, reason: str) -> None:
    verdict = PeerGuard().check(host)
    assert not verdict.allowed
    assert reason in verdict.reason


@pytest.mark.parametrize(
    ("host", "embedded"),
    [
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:0:10.0.0.1", "private"),
        ("64:ff9b::127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),
        ("64:ff9b::192.168.1.1", "private"),
        ("2002:7f00:1::1", "loopback"),
        ("2002:a9fe:a9fe::", "cloud metadata"),
        ("2002:c0a8:0101::1", "private"),
        ("2a00:1450::5efe:10.0.0.1", "private"),
        ("2a00:1450::200:5efe:127.0.0.1", "loopback"),
    ],
)
def test_embedded_ipv4_is_checked(host: str, embedded: str) -> None:
    verdict = PeerGuard().check(host)
    assert not verdict.allowed
    assert embedded in verdict.reason


def test_ipv4_compatible_and_teredo_are_refused() -> None:
    guard = PeerGuard()
    assert not guard.check("::127.0.0.1").allowed
    assert not guard.check("::8.8.8.8").allowed
    # Teredo: server 65.54.227.120, client 127.0.0.1 inverted in the low bits.
    teredo = "2001:0:4136:e378:8000:63bf:80ff:fffe"
    assert not guard.check(teredo).allowed
    found = embedded_ipv4(ipaddress.IPv6Address(teredo))
    assert ipaddress.IPv4Address("127.0.0.1") in found
    assert ipaddress.IPv4Address("65.54.227.120") in found


def test_public_addresses_pass() -> None:
    guard = PeerGuard()
    for host in ("8.8.8.8", "2a00:1450:4001::1", "64:ff9b::808:808", "2002:808:808::1"):
        assert guard.check(host).allowed, host


def test_server_own_addresses_are_refused() -> None:
    guard = PeerGuard(own_addresses=["203.0.114.5", "2a01:4f8::5"])
    assert guard.check("203.0.114.5").reason == "server's own address"
    assert not guard.check("::ffff:203.0.114.5").allowed
    assert not guard.check("2a01:4f8::5").allowed
    assert guard.check("203.0.114.6").allowed


def test_allow_list_opens_networks_including_embedded_forms() -> None:
    guard = PeerGuard(allowed=["127.0.0.0/8", "10.0.0.0/24"])
    assert guard.check("127.0.0.1").allowed
    assert guard.check("::ffff:127.0.0.1").allowed
    assert guard.check("64:ff9b::a00:5").allowed
    assert not guard.check("10.0.1.5").allowed
    assert not guard.check("::1").allowed
    assert not guard.check("169.254.169.254").allowed


def test_garbage_is_refused() -> None:
    assert PeerGuard().check("not-an-ip").reason == "not an IP address"
