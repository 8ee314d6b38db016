"""HTTP to webhook targets, refusing private addresses and never following redirects.

The target's host name is resolved once, every address it resolves to must pass
the address guard, and the request then goes to the checked address itself (with
the original Host header and TLS server name), so DNS cannot swap in another
address between the check and the connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from switchboard.core.errors import AcsError, ErrorCode, bad_request
from switchboard.core.netguard import PeerGuard

# Resolver answers that say the name does not exist; any other failure (a DNS
# server that timed out or answered SERVFAIL) may pass, so it is retried.
_NO_SUCH_NAME = {
    code
    for code in (
        getattr(socket, "EAI_NONAME", None),
        getattr(socket, "EAI_NODATA", None),
    )
    if code is not None
}


class TargetRefused(Exception):
    """The target URL is not allowed; the message says why."""


class TargetUnresolved(TargetRefused):
    """The target's host name did not resolve; `temporary` when DNS may answer later.

    A delivery retries either kind (the name resolved when it was registered);
    registering a target answers 503 for a temporary failure and 400 otherwise.
    """

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


def target_error(exc: TargetRefused, field: str) -> AcsError:
    """The API's answer to a refused target: 503 while DNS fails, otherwise a 400."""
    if isinstance(exc, TargetUnresolved) and exc.temporary:
        return AcsError(
            503,
            ErrorCode.UNAVAILABLE,
            f"{field} cannot be checked now: {exc}; try again later",
            field,
            headers={"Retry-After": "10"},
        )
    return bad_request(
        f"{field} is refused: {exc}", code=ErrorCode.INVALID_REQUEST_BODY, target=field
    )


@dataclass(frozen=True, slots=True)
class Pinned:
    """A target URL rewritten to a checked address, with what to send as Host."""

    url: str
    host_header: str
    server_name: str | None


def check_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable target URL, or TargetRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the target must be an http or https URL")
    if not parts.hostname:
        raise TargetRefused("the target URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the target URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("the target URL has an invalid port") from exc
    return parts.scheme, parts.hostname, port


class WebhookClient:
    """Sends requests to webhook targets through the address guard."""

    def __init__(self, guard: PeerGuard, timeout_s: float) -> None:
        self._guard = guard
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,
            verify=ssl.create_default_context(),
            headers={"User-Agent": "Switchboard-Events/1"},
        )

    async def pin(self, url: str) -> Pinned:
        """Resolve and check the target; TargetRefused names the refused address."""
        scheme, host, port = check_url(url)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise TargetUnresolved(
                f"cannot resolve {host}: {exc.strerror}",
                temporary=exc.errno not in _NO_SUCH_NAME,
            ) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            verdict = self._guard.check(address)
            if not verdict.allowed:
                raise TargetRefused(
                    f"{host} resolves to {address}, which is refused ({verdict.reason})"
                )
        if not addresses:
            raise TargetRefused(f"{host} resolves to no address")

        parts = urlsplit(url)
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{port}"
        default = 443 if scheme == "https" else 80
        host_header = host if parts.port in (None, default) else f"{host}:{port}"
        pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        return Pinned(pinned, host_header, host if scheme == "https" else None)

    async def request(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """Send one request to a checked target (TargetRefused or httpx errors)."""
        pinned = await self.pin(url)
        extensions = {"sni_hostname": pinned.server_name} if pinned.server_name else {}
        return await self._client.request(
            method,
            pinned.url,
            content=body,
            headers={**headers, "Host": pinned.host_header},
            extensions=extensions,
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
