"""What every provider client shares: the outcome of a send, the HTTP client."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import httpx

from switchboard.events.dispatcher import retry_after_s
from switchboard.push.records import Push, Registration


class Verdict(StrEnum):
    """What a provider's answer means for the push and the registration."""

    SENT = "sent"
    RETRY = "retry"
    """A transient failure (network, 429, 5xx): try again later."""
    FAILED = "failed"
    """This push cannot be sent (too large, malformed); the device stays."""
    GONE = "gone"
    """The device is no longer registered with the provider: forget it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One send's result, with the provider's reason and any wait it asked for."""

    verdict: Verdict
    detail: str = ""
    retry_after_s: float | None = None


class Provider(Protocol):
    """Sends pushes to the devices of one or more platforms."""

    async def send(self, registration: Registration, push: Push) -> Outcome:
        """Send one push to one device and say what came of it."""
        ...

    async def close(self) -> None:
        """Close connections."""
        ...


def http_client(timeout_s: float, *, http2: bool = False) -> httpx.AsyncClient:
    """An HTTPS client trusting the system's CAs (and SSL_CERT_FILE), no proxies."""
    return httpx.AsyncClient(
        timeout=timeout_s,
        http2=http2,
        trust_env=False,
        follow_redirects=False,
        verify=ssl.create_default_context(),
    )


def retry_wait(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a `Retry-After` header asks for, if any."""
    return retry_after_s(headers, now)


def transient(status: int) -> bool:
    """Whether an HTTP status means "try again later" for every provider."""
    return status in (408, 429) or status >= 500


def network_failure(exc: httpx.HTTPError) -> Outcome:
    """The outcome of a send that got no answer."""
    return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")
