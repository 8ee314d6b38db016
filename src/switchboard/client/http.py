"""What the REST clients share: one httpx pool, closed on exit."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any, Self

import httpx


class PooledClient:
    """An async context manager around one `httpx.AsyncClient`."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


class UserClient(PooledClient):
    """A REST client acting as one user, with that user's access token."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=endpoint.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            verify=verify,
            timeout=timeout_s,
        )


def error_body(answer: httpx.Response) -> dict[str, Any]:
    """The `error` object of an ACS error answer; empty when it has none."""
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return {}
    error = answer.json().get("error", {})
    return error if isinstance(error, dict) else {}
