"""Apple Push Notification service: HTTP/2 requests with token-based (JWT) auth.

Apple's "Sending notification requests to APNs" and "Establishing a token-based
connection to APNs": one POST per push to `/3/device/<token>` over HTTP/2,
authorised by an ES256 JWT (`iss` the team id, `kid` the key id) that is
reused for between 20 and 60 minutes.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
from switchboard.push.records import Platform, Push, PushKind, Registration

log = logging.getLogger(__name__)

PRODUCTION = "https://api.push.apple.com"
SANDBOX = "https://api.sandbox.push.apple.com"

TOKEN_REUSE_S = 40 * 60.0
"""APNs refuses a provider token older than an hour and one renewed more often
than every 20 minutes; 40 minutes sits between."""

_GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})
_STALE_TOKEN_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})


class ProviderToken:
    """The ES256 JWT APNs takes as `authorization: bearer`, renewed every 40 min."""

    def __init__(self, team_id: str, key_id: str, key_pem: str, clock: Clock) -> None:
        self._team_id = team_id
        self._key_id = key_id
        self._key_pem = key_pem
        self._clock = clock
        self._value = ""
        self._issued_at = 0.0

    def get(self) -> str:
        """The current token, made anew when it is 40 minutes old."""
        now = self._clock()
        if not self._value or now - self._issued_at >= TOKEN_REUSE_S:
            self._issued_at = now
            self._value = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._key_pem,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            log.info("APNs provider token made for key %s", self._key_id)
        return self._value

    def invalidate(self) -> None:
        """Make a new token on the next send (APNs said this one is stale)."""
        self._value = ""


def apns_body(push: Push) -> dict[str, Any]:
    """The JSON APNs delivers: `aps` for the system, `switchboard` for the app."""
    payload = push.payload
    if push.kind is PushKind.CALL:
        # A VoIP push wakes the app, which reports the call to CallKit itself.
        return {"aps": {}, "switchboard": payload}
    alert: dict[str, str] = {"title": payload.get("senderDisplayName") or "New message"}
    if payload.get("preview"):
        alert["body"] = payload["preview"]
    aps: dict[str, Any] = {
        "alert": alert,
        "sound": "default",
        "thread-id": payload["threadId"],
        "mutable-content": 1,
    }
    return {"aps": aps, "switchboard": payload}


class ApnsProvider:
    """Sends alert and VoIP pushes to APNs over one HTTP/2 connection."""

    def __init__(self, settings: PushSettings, clock: Clock) -> None:
        assert settings.apns_key_file is not None
        self._settings = settings
        self._clock = clock
        pem = Path(settings.apns_key_file).read_text()
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{settings.apns_key_file} is not an APNs (P-256) key")
        self._token = ProviderToken(
            settings.apns_team_id, settings.apns_key_id, pem, clock
        )
        base = settings.apns_endpoint
        if not base:
            base = SANDBOX if settings.apns_environment == "sandbox" else PRODUCTION
        self._base = base.rstrip("/")
        self._http = http_client(settings.timeout_s, http2=True)

    async def close(self) -> None:
        """Close the HTTP/2 connection."""
        await self._http.aclose()

    async def send(self, registration: Registration, push: Push) -> Outcome:
        """POST one push to `/3/device/<token>` and read APNs's answer."""
        voip = registration.platform is Platform.APNS_VOIP
        topic = self._settings.apns_topic + (".voip" if voip else "")
        expiration = int(self._clock()) + push.ttl_s if push.ttl_s else 0
        bearer = self._token.get()
        headers = {
            "authorization": f"bearer {bearer}",
            "apns-topic": topic,
            "apns-push-type": "voip" if voip else "alert",
            "apns-priority": "10",
            "apns-expiration": str(expiration),
        }
        if push.collapse_key and not voip:
            headers["apns-collapse-id"] = push.collapse_key
        body = json.dumps(apns_body(push), separators=(",", ":")).encode()
        try:
            answer = await self._http.post(
                f"{self._base}/3/device/{registration.token}",
                content=body,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            return network_failure(exc)
        return self._outcome(answer)

    def _outcome(self, answer: httpx.Response) -> Outcome:
        status = answer.status_code
        if status == 200:
            return Outcome(Verdict.SENT, answer.headers.get("apns-id", ""))
        reason = ""
        with contextlib.suppress(ValueError):
            reason = str(answer.json().get("reason", ""))
        detail = f"APNs HTTP {status} {reason}".strip()
        if status == 410 or reason in _GONE_REASONS:
            return Outcome(Verdict.GONE, detail)
        if reason in _STALE_TOKEN_REASONS:
            self._token.invalidate()
            return Outcome(Verdict.RETRY, detail)
        if transient(status):
            return Outcome(
                Verdict.RETRY, detail, retry_wait(answer.headers, self._clock())
            )
        return Outcome(Verdict.FAILED, detail)
