"""Address guard: which addresses a relay or a webhook may reach.

Neither a TURN relay nor a webhook may become a way into the operator's own
network. Every address is first canonicalised, so that IPv4 addresses hidden
inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo, ISATAP) are checked as
IPv4, and then refused if any of them is loopback, private, link-local, metadata,
multicast, reserved or one of the server's own addresses, unless an
operator allow-listed network contains it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Refused ranges with the reason logged for them, most specific first.
_DENIED: tuple[tuple[IPNetwork, str], ...] = (
    (_V4("169.254.169.254/32"), "cloud metadata"),
    (_V6("fd00:ec2::254/128"), "cloud metadata"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("0.0.0.0/8"), "unspecified or this-network"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "shared address space (CGNAT)"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("100::/64"), "discard-only"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("2001::/23"), "reserved (IETF protocol assignments)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "private (unique local)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("ff00::/8"), "multicast"),
    (_V6("::/96"), "deprecated IPv4-compatible"),
    (_V6("5f00::/16"), "reserved (segment routing)"),
)

_MAPPED = _V6("::ffff:0:0/96")
_TRANSLATED = _V6("::ffff:0:0:0/96")
_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """IPv4 addresses an IPv6 address carries (none for plain IPv6 or IPv4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return ()
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []

    # RFC 4291 §2.5.5: IPv4-mapped and (deprecated) IPv4-compatible; SIIT's
    # IPv4-translated form of RFC 2765 too.
    compatible = address in _COMPATIBLE and value > 1
    if compatible or address in _MAPPED or address in _TRANSLATED:
        found.append(low32)
    # RFC 6052 §2.1: the well-known NAT64 prefix (the RFC 8215 local-use
    # prefix is refused outright above, as its layout is site-specific).
    if address in _NAT64:
        found.append(low32)
    # RFC 3056 §2: 6to4 carries the site's IPv4 in bits 16-47.
    if address in _SIX_TO_FOUR:
        found.append(ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))
    # RFC 4380 §4: Teredo server IPv4 in bits 32-63, client IPv4 inverted
    # in the low 32 bits.
    if address in _TEREDO:
        found.append(ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF))
        found.append(ipaddress.IPv4Address(~value & 0xFFFFFFFF))
    # RFC 5214 §6.1: ISATAP interface identifiers 0000:5efe / 0200:5efe.
    if (value >> 32) & 0xFDFFFFFF == 0x00005EFE:
        found.append(low32)
    return tuple(found)


def canonical(address: IPAddress) -> IPAddress:
    """The IPv4 address behind an IPv4-mapped IPv6 address, else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(address.compressed.split("%")[0])
    return address


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guard decision: ``reason`` says why a refused address is refused."""

    allowed: bool
    reason: str = ""


class PeerGuard:
    """Decides whether Switchboard may send to an address."""

    def __init__(
        self,
        allowed: Iterable[str] = (),
        own_addresses: Iterable[str] = (),
    ) -> None:
        self._allowed = tuple(ipaddress.ip_network(c, strict=False) for c in allowed)
        self._own: set[IPAddress] = set()
        for own in own_addresses:
            self.add_own_address(own)

    def add_own_address(self, address: str) -> None:
        """Treat ``address`` as the server's own (refused unless allow-listed)."""
        parsed = canonical(ipaddress.ip_address(address))
        if not parsed.is_unspecified:
            self._own.add(parsed)

    def check(self, host: str) -> Verdict:
        """Decide on one peer host (an IP literal)."""
        try:
            address = canonical(ipaddress.ip_address(host))
        except ValueError:
            return Verdict(False, "not an IP address")

        # Every form of the address must pass: itself and what it embeds.
        candidates: list[IPAddress] = [address, *embedded_ipv4(address)]
        for candidate in candidates:
            if self._is_allow_listed(candidate):
                continue
            reason = self._deny_reason(candidate)
            if reason:
                if candidate != address:
                    reason = f"{reason} (embedded {candidate} in {address})"
                return Verdict(False, reason)
        return Verdict(True)

    def _is_allow_listed(self, address: IPAddress) -> bool:
        return any(
            address.version == net.version and address in net for net in self._allowed
        )

    def _deny_reason(self, address: IPAddress) -> str:
        if address in self._own:
            return "server's own address"
        for network, reason in _DENIED:
            if address.version == network.version and address in network:
                return reason
        return ""
