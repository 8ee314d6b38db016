"""Delivery signatures, so a receiver can trust that Switchboard sent the body.

Header `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
HMAC key is the subscription's secret and the message is `<t>.` followed by the
exact body bytes. Receivers should also refuse timestamps far from their clock.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Switchboard-Signature"


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, header: str, now: float, tolerance_s: int = 300
) -> bool:
    """True when `header` signs `body` with `secret` within the time tolerance."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
