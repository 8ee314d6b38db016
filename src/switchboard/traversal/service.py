"""Relay configurations: which STUN/TURN servers a client may use, and as whom.

A configuration lists the built-in server (its UDP, TCP and TLS ports as they
are bound) and any external TURN servers sharing the secret, all with one
time-limited credential in the shared-secret form (see `credentials`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from switchboard.config import TraversalSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError, ErrorCode, bad_request
from switchboard.core.ids import UserId
from switchboard.identity.service import IdentityService
from switchboard.traversal.credentials import issue_credentials

log = logging.getLogger(__name__)

MAX_TTL_S = 172_800
"""The largest ttl the ACS relay API accepts (48 hours)."""


class RouteType(StrEnum):
    """ACS route types; Switchboard has one route, so both give the same servers."""

    ANY = "any"
    NEAREST = "nearest"


@dataclass(frozen=True, slots=True)
class IceServer:
    """One entry of `iceServers`: URLs sharing one username and credential."""

    urls: tuple[str, ...]
    username: str
    credential: str
    route_type: RouteType


@dataclass(frozen=True, slots=True)
class RelayConfiguration:
    """The servers and credentials handed to one client, valid until `expires_at`."""

    expires_at: int
    ice_servers: tuple[IceServer, ...]


def _url_host(host: str) -> str:
    # RFC 7064 §3.1 and RFC 7065 §3.1: an IPv6 literal goes in brackets.
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def builtin_urls(host: str, ports: Mapping[str, int]) -> tuple[str, ...]:
    """The stun:, turn: and turns: URLs (RFC 7064, RFC 7065) of bound ports."""
    where = _url_host(host)
    urls: list[str] = []
    if "udp" in ports:
        urls += [
            f"stun:{where}:{ports['udp']}",
            f"turn:{where}:{ports['udp']}?transport=udp",
        ]
    if "tcp" in ports:
        urls.append(f"turn:{where}:{ports['tcp']}?transport=tcp")
    if "tls" in ports:
        urls.append(f"turns:{where}:{ports['tls']}?transport=tcp")
    return tuple(urls)


class RelayService:
    """Issues relay configurations for the users of one resource."""

    def __init__(
        self,
        settings: TraversalSettings,
        public_host: str,
        secret: str,
        identity: IdentityService,
        resource_id: str,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._host = settings.public_host or public_host
        self._secret = secret
        self._identity = identity
        self._resource_id = resource_id
        self._clock = clock
        self._builtin: tuple[str, ...] = ()
        self._external = tuple(
            tuple(entry.split()) for entry in settings.external_servers
        )

    @property
    def secret(self) -> str:
        """The shared secret (never to be logged)."""
        return self._secret

    def attach(self, ports: Mapping[str, int]) -> None:
        """Hand out the built-in server from now on, at the ports it bound."""
        self._builtin = builtin_urls(self._host, ports)

    async def check_user(self, user: UserId) -> None:
        """400 unless `user` is a current identity of this resource."""
        if user.resource_id != self._resource_id:
            raise bad_request(
                f"{user.raw!r} is not an identity of this resource",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="id",
            )
        state = await self._identity.user_state(user)
        if state is None or state.deleted:
            raise bad_request(
                f"the identity {user.raw} does not exist",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="id",
            )

    def issue(
        self, user: UserId | None, route_type: RouteType, ttl_s: int | None
    ) -> RelayConfiguration:
        """Credentials for `user` (a random name without one) on every server.

        A ttl above the configured maximum is cut to it, as ACS does; a ttl
        of 0 gives credentials that lapse within a second.
        """
        groups = ((self._builtin,) if self._builtin else ()) + self._external
        if not groups:
            raise AcsError(
                503,
                ErrorCode.UNAVAILABLE,
                "no TURN server is configured on this node",
            )
        requested = self._settings.default_ttl_s if ttl_s is None else ttl_s
        ttl = max(1, min(requested, self._settings.max_ttl_s))

        # Without an identity each configuration gets its own name, so that the
        # per-user allocation quota applies per configuration.
        name = user.raw if user is not None else f"anonymous-{secrets.token_hex(8)}"
        credentials = issue_credentials(self._secret.encode(), name, ttl, self._clock())
        log.debug("relay credentials issued for %s, ttl %d s", name, ttl)
        servers = tuple(
            IceServer(urls, credentials.username, credentials.password, route_type)
            for urls in groups
        )
        return RelayConfiguration(credentials.expires_at, servers)
