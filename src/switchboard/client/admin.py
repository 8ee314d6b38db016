"""The trusted service's identity calls, HMAC-signed (WIRE.md §1.2, §2.1).

For tools, benchmarks and tests that need users and tokens without the official
identity SDK; applications may use either.
"""

from __future__ import annotations

import email.utils
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from switchboard.auth.hmac import authorization_header
from switchboard.client.http import PooledClient

API_VERSION = "2023-10-01"


@dataclass(frozen=True, slots=True)
class UserToken:
    """A user's raw id and a token for it."""

    user_id: str
    token: str
    expires_on: str


def parse_connection_string(connection_string: str) -> tuple[str, str]:
    """The endpoint and access key of `endpoint=...;accesskey=...`."""
    parts = dict(
        item.split("=", 1) for item in connection_string.strip().split(";") if item
    )
    return parts["endpoint"].rstrip("/"), parts["accesskey"]


class IdentityAdmin(PooledClient):
    """Creates users, issues and revokes tokens, deletes users."""

    def __init__(
        self, connection_string: str, *, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._endpoint, self._key = parse_connection_string(connection_string)
        self._host = urlsplit(self._endpoint).netloc
        self._http = httpx.AsyncClient(base_url=self._endpoint, verify=verify)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        path_and_query = f"{path}?api-version={API_VERSION}"
        data = b"" if body is None else json.dumps(body).encode()
        headers = authorization_header(
            self._key,
            method,
            path_and_query,
            email.utils.formatdate(usegmt=True),
            self._host,
            data,
        )
        if body is not None:
            headers["Content-Type"] = "application/json"
        answer = await self._http.request(
            method, path_and_query, content=data, headers=headers
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    async def create_user_and_token(
        self, scopes: tuple[str, ...] = ("chat",), minutes: int = 1440
    ) -> UserToken:
        """A new user with a token carrying `scopes`."""
        body = {"createTokenWithScopes": list(scopes), "expiresInMinutes": minutes}
        answer = await self._call("POST", "/identities", body)
        return UserToken(
            answer["identity"]["id"],
            answer["accessToken"]["token"],
            answer["accessToken"]["expiresOn"],
        )

    async def revoke_tokens(self, user_id: str) -> None:
        """Invalidate every token issued to the user so far."""
        await self._call(
            "POST", f"/identities/{quote(user_id, safe='')}/:revokeAccessTokens"
        )

    async def delete_user(self, user_id: str) -> None:
        """Delete the user."""
        await self._call("DELETE", f"/identities/{quote(user_id, safe='')}")
