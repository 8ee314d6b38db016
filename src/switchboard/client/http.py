"""What the REST clients share: one httpx pool, closed on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Self

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
