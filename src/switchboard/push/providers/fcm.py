"""Firebase Cloud Messaging, HTTP v1 API, authorised with a service account.

The access token comes from the OAuth 2.0 JWT-bearer grant (RFC 7523 §2.1): an
RS256 JWT signed with the service account's key, `aud` its `token_uri`, scope
firebase.messaging. Each push is `POST /v1/projects/<id>/messages:send` with a
data-only message (FCM's reference, "REST Resource: projects.messages").
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from switchboard.config import PushSettings
from switchboard.core.clock import Clock
from switchboard.push.providers.base import (
    Outcome,
    Verdict,
    http_client,
    network_failure,
    retry_wait,
    transient,
)
from switchboard.push.providers.oauth import TokenError, TokenSource
from switchboard.push.records import Push, PushKind, Registration

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"

_GONE_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


class ServiceAccount:
    """The fields of a Firebase service-account JSON that sending needs."""

    def __init__(self, path: Path) -> None:
        data = json.loads(Path(path).read_text())
        try:
            self.project_id = str(data["project_id"])
            self.client_email = str(data["client_email"])
            self.private_key = str(data["private_key"])
            self.token_uri = str(data["token_uri"])
        except KeyError as exc:
            raise ValueError(f"{path}: the service account has no {exc}") from None
        self.private_key_id = str(data.get("private_key_id", ""))
        key = serialization.load_pem_private_key(
            self.private_key.encode(), password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: private_key is not an RSA key")

    def assertion(self, now: float) -> str:
        """The signed JWT exchanged for an access token (RFC 7523 §3)."""
        headers = {"kid": self.private_key_id} if self.private_key_id else None
        return jwt.encode(
            {
                "iss": self.client_email,
                "scope": SCOPE,
                "aud": self.token_uri,
                "iat": int(now),
                "exp": int(now) + 3600,
            },
            self.private_key,
            algorithm="RS256",
            headers=headers,
        )


def fcm_data(payload: dict[str, Any]) -> dict[str, str]:
    """The payload as FCM data: every value a string (booleans as true/false)."""
    data: dict[str, str] = {}
    for name, value in payload.items():
        if isinstance(value, bool):
            data[name] = "true" if value else "false"
        elif value is not None:
            data[name] = str(value)
    return data


def fcm_message(token: str, push: Push) -> dict[str, Any]:
    """The `message` object of one send request."""
    android: dict[str, Any] = {
        "priority": "HIGH" if push.kind is PushKind.CALL else "NORMAL",
        "ttl": f"{push.ttl_s}s",
    }
    if push.collapse_key:
        android["collapse_key"] = push.collapse_key
    return {"token": token, "data": fcm_data(push.payload), "android": android}


class FcmProvider:
    """Sends data messages through the FCM v1 API."""

    def __init__(self, settings: PushSettings, clock: Clock) -> None:
        assert settings.fcm_service_account_file is not None
        self._account = ServiceAccount(settings.fcm_service_account_file)
        self._clock = clock
        self._http = http_client(settings.timeout_s)
        self._url = (
            f"{settings.fcm_endpoint.rstrip('/')}/v1/projects/"
            f"{self._account.project_id}/messages:send"
        )
        self._tokens = TokenSource(
            "FCM",
            self._account.token_uri,
            lambda: {
                "grant_type": GRANT_TYPE,
                "assertion": self._account.assertion(self._clock()),
            },
            self._http,
            clock,
        )

    async def close(self) -> None:
        """Close connections."""
        await self._http.aclose()

    async def send(self, registration: Registration, push: Push) -> Outcome:
        """POST one message to `messages:send`."""
        try:
            bearer = await self._tokens.get()
        except TokenError as exc:
            return Outcome(Verdict.RETRY, str(exc))
        body = {"message": fcm_message(registration.token, push)}
        try:
            answer = await self._http.post(
                self._url, json=body, headers={"authorization": f"Bearer {bearer}"}
            )
        except httpx.HTTPError as exc:
            return network_failure(exc)
        status = answer.status_code
        if status == 200:
            return Outcome(Verdict.SENT, str(_json(answer).get("name", "")))
        error = _json(answer).get("error", {})
        codes = {
            str(detail.get("errorCode"))
            for detail in error.get("details", [])
            if isinstance(detail, dict) and "errorCode" in detail
        }
        detail = f"FCM HTTP {status} {error.get('status', '')} {sorted(codes)}"
        if status == 404 or codes & _GONE_CODES:
            return Outcome(Verdict.GONE, detail)
        if status == 401:
            self._tokens.invalidate(bearer)
            return Outcome(Verdict.RETRY, detail)
        if transient(status):
            return Outcome(
                Verdict.RETRY, detail, retry_wait(answer.headers, self._clock())
            )
        return Outcome(Verdict.FAILED, detail)


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
