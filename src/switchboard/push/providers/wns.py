"""Windows Push Notification Services: raw and toast notifications to channel URIs.

Microsoft's "Push notification service request and response headers": the
cloud service authenticates with its package SID and secret (OAuth 2.0 client
credentials, RFC 6749 §4.4) and POSTs each notification to the device's channel
URI with `X-WNS-Type`. A call is a raw notification the app handles itself; a
chat message is a toast tagged per thread, so a newer one replaces the older.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import httpx

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

TAG_CHARS = 16
"""WNS takes tags of at most 16 characters."""


def channel_allowed(uri: str, hosts: tuple[str, ...]) -> bool:
    """Whether a channel URI is HTTPS on one of the WNS hosts (or a subdomain)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    return any(host == h or host.endswith("." + h) for h in hosts)


def toast_xml(payload: dict[str, Any]) -> str:
    """A ToastGeneric toast: the sender, the preview, the payload as launch args."""
    title = payload.get("senderDisplayName") or "New message"
    lines = [f"<text>{escape(str(title))}</text>"]
    if payload.get("preview"):
        lines.append(f"<text>{escape(str(payload['preview']))}</text>")
    launch = quoteattr(json.dumps(payload, separators=(",", ":")))
    return (
        f'<toast launch={launch}><visual><binding template="ToastGeneric">'
        f"{''.join(lines)}</binding></visual></toast>"
    )


class WnsProvider:
    """Sends raw and toast notifications through WNS."""

    def __init__(self, settings: PushSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._http = http_client(settings.timeout_s)
        secret = settings.wns_client_secret.get_secret_value()
        self._tokens = TokenSource(
            "WNS",
            settings.wns_login_url,
            lambda: {
                "grant_type": "client_credentials",
                "client_id": settings.wns_client_id,
                "client_secret": secret,
                "scope": settings.wns_scope,
            },
            self._http,
            clock,
        )

    async def close(self) -> None:
        """Close connections."""
        await self._http.aclose()

    async def send(self, registration: Registration, push: Push) -> Outcome:
        """POST one notification to the device's channel URI."""
        if not channel_allowed(registration.token, self._settings.wns_channel_hosts):
            return Outcome(Verdict.GONE, "the channel URI is not on a WNS host")
        try:
            bearer = await self._tokens.get()
        except TokenError as exc:
            return Outcome(Verdict.RETRY, str(exc))
        headers = {
            "authorization": f"Bearer {bearer}",
            "x-wns-ttl": str(push.ttl_s),
            "x-wns-requestforstatus": "true",
        }
        if push.kind is PushKind.CALL:
            headers["x-wns-type"] = "wns/raw"
            headers["content-type"] = "application/octet-stream"
            body = json.dumps(push.payload, separators=(",", ":")).encode()
        else:
            headers["x-wns-type"] = "wns/toast"
            headers["content-type"] = "text/xml"
            if push.collapse_key:
                headers["x-wns-tag"] = push.collapse_key[:TAG_CHARS]
            body = toast_xml(push.payload).encode()
        try:
            answer = await self._http.post(
                registration.token, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            return network_failure(exc)
        status = answer.status_code
        detail = (
            f"WNS HTTP {status} "
            f"{answer.headers.get('x-wns-notificationstatus', '')}".strip()
        )
        if status == 200:
            return Outcome(Verdict.SENT, detail)
        if status in (404, 410):
            return Outcome(Verdict.GONE, detail)
        if status == 401:
            self._tokens.invalidate(bearer)
            return Outcome(Verdict.RETRY, detail)
        if status == 406 or transient(status):
            # 406 is WNS's throttle answer.
            return Outcome(
                Verdict.RETRY, detail, retry_wait(answer.headers, self._clock())
            )
        return Outcome(Verdict.FAILED, detail)
