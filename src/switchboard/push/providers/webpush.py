"""Web Push: RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID.

The payload is encrypted for the subscription's `p256dh` key and `auth` secret
in one aes128gcm record (RFC 8188), POSTed to the subscription's endpoint with
TTL, Urgency and, for chat messages, a Topic so that a newer message replaces
one still queued for the browser.
"""

from __future__ import annotations

import json
import logging

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from switchboard.config import PushSettings
from switchboard.core.clock import Clock
from switchboard.events.webhook import TargetRefused, TargetUnresolved, WebhookClient
from switchboard.push.providers.base import (
    Outcome,
    Verdict,
    network_failure,
    retry_wait,
    transient,
)
from switchboard.push.records import Push, PushKind, Registration
from switchboard.push.vapid import VapidKey, b64url_decode

log = logging.getLogger(__name__)

MAX_RECORD = 4096
"""RFC 8291 §4: push services must accept bodies of up to 4096 bytes."""


def encrypt(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """The aes128gcm body for one subscription, with a fresh sender key."""
    # RFC 8291 §3.4: an ephemeral ECDH key per message; its public point is the
    # keyid of the RFC 8188 header.
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        private_key=sender,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
        rs=MAX_RECORD,
    )
    return body


class WebPushProvider:
    """Sends encrypted pushes to browsers' push services, signed with VAPID."""

    def __init__(
        self,
        settings: PushSettings,
        vapid: VapidKey,
        subject: str,
        http: WebhookClient,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._vapid = vapid
        self._subject = subject
        self._http = http
        self._clock = clock

    async def close(self) -> None:
        """Close connections."""
        await self._http.close()

    async def send(self, registration: Registration, push: Push) -> Outcome:
        """Encrypt the payload and POST it to the subscription's endpoint."""
        if registration.p256dh is None or registration.auth is None:
            return Outcome(Verdict.GONE, "the subscription has no keys")
        plaintext = json.dumps(push.payload, separators=(",", ":")).encode()
        try:
            body = encrypt(plaintext, registration.p256dh, registration.auth)
        except (ValueError, http_ece.ECEException) as exc:
            return Outcome(Verdict.GONE, f"the subscription's keys are unusable: {exc}")
        endpoint = registration.token
        # RFC 8030 §5.2 (TTL), §5.3 (Urgency), §5.4 (Topic).
        headers = {
            "authorization": self._vapid.authorization(endpoint, self._subject),
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
            "ttl": str(push.ttl_s),
            "urgency": "high" if push.kind is PushKind.CALL else "normal",
            "user-agent": "Switchboard-Push/1",
        }
        if push.collapse_key:
            headers["topic"] = push.collapse_key
        try:
            answer = await self._http.request("POST", endpoint, body, headers)
        except TargetRefused as exc:
            if isinstance(exc, TargetUnresolved):
                return Outcome(Verdict.RETRY, str(exc))
            return Outcome(Verdict.FAILED, f"the endpoint is refused: {exc}")
        except httpx.HTTPError as exc:
            return network_failure(exc)
        status = answer.status_code
        detail = f"Web Push HTTP {status}"
        if 200 <= status < 300:
            return Outcome(Verdict.SENT, answer.headers.get("location", ""))
        if status in (404, 410):
            return Outcome(Verdict.GONE, detail)
        if transient(status):
            return Outcome(
                Verdict.RETRY, detail, retry_wait(answer.headers, self._clock())
            )
        return Outcome(Verdict.FAILED, detail)
