"""An OAuth 2.0 access token obtained from a token endpoint and kept until near expiry.

FCM (RFC 7523 JWT-bearer grant) and WNS (RFC 6749 §4.4 client credentials) both
hand out bearer tokens valid for an hour or a day; one is fetched, shared by
every send, and fetched again a minute before it runs out or when the provider
answers 401.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from switchboard.core.clock import Clock

log = logging.getLogger(__name__)

_EARLY_S = 60.0
"""A token is renewed this long before it expires."""


class TokenError(Exception):
    """The token endpoint refused or could not be reached; the message says why."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it stops working."""

    value: str
    expires_at: float


FormBuilder = Callable[[], dict[str, str]]
"""Makes the form posted to the token endpoint (a fresh assertion each time)."""


class TokenSource:
    """One cached access token, renewed on demand by a single request at a time."""

    def __init__(
        self,
        name: str,
        url: str,
        form: FormBuilder,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> None:
        self._name = name
        self._url = url
        self._form = form
        self._http = http
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid token, fetched when there is none or it is about to expire."""
        token = self._token
        if token is not None and token.expires_at - _EARLY_S > self._clock():
            return token.value
        async with self._lock:
            token = self._token
            if token is None or token.expires_at - _EARLY_S <= self._clock():
                token = self._token = await self._fetch()
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget the token a provider refused, unless a newer one replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _fetch(self) -> AccessToken:
        # RFC 6749 §5.1: access_token, token_type and (here required) expires_in.
        fetch: Awaitable[httpx.Response] = self._http.post(self._url, data=self._form())
        try:
            answer = await fetch
        except httpx.HTTPError as exc:
            raise TokenError(f"{self._name} token endpoint: {exc!r}") from exc
        if answer.status_code != 200:
            raise TokenError(
                f"{self._name} token endpoint answered HTTP {answer.status_code}: "
                f"{answer.text[:200]}"
            )
        try:
            body = answer.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(
                f"{self._name} token endpoint: no access_token in the answer"
            ) from exc
        log.info("%s access token obtained, valid %.0fs", self._name, lifetime)
        return AccessToken(value, self._clock() + lifetime)
