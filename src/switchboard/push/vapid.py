"""The VAPID key pair (RFC 8292): made on first start, kept in the database.

Every node signs with the same key, so a browser subscribed through one node
gets pushes sent by any; the public key is what browsers pass to
`PushManager.subscribe` as `applicationServerKey`.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from switchboard.core.clock import Clock
from switchboard.storage.engine import Database
from switchboard.storage.push_tables import push_keys

log = logging.getLogger(__name__)

JWT_LIFETIME_S = 12 * 3600
"""RFC 8292 §2: `exp` at most 24 hours ahead; half that leaves room for skew."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (ValueError when it is not)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def audience(endpoint: str) -> str:
    """The push service's origin, the `aud` of the VAPID JWT (RFC 8292 §2)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class VapidKey:
    """The server's P-256 key, its public form, and cached JWTs per push service."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, clock: Clock) -> None:
        self._key = private_key
        self._clock = clock
        self._pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.public_key = b64url(
            private_key.public_key().public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint,
            )
        )
        """The uncompressed public point, base64url: the applicationServerKey."""
        self._tokens: dict[str, tuple[float, str]] = {}

    def authorization(self, endpoint: str, subject: str) -> str:
        """The `Authorization: vapid t=..., k=...` value for a push to `endpoint`."""
        # RFC 8292 §3: the JWT as t, the public key as k.
        aud = audience(endpoint)
        now = self._clock()
        cached = self._tokens.get(aud)
        if cached is None or cached[0] - now < JWT_LIFETIME_S / 2:
            expires = int(now) + JWT_LIFETIME_S
            token = jwt.encode(
                {"aud": aud, "exp": expires, "sub": subject},
                self._pem,
                algorithm="ES256",
                headers={"typ": "JWT"},
            )
            if len(self._tokens) > 1000:
                self._tokens.clear()
            cached = self._tokens[aud] = (float(expires), token)
        return f"vapid t={cached[1]}, k={self.public_key}"


async def load_vapid_key(db: Database, clock: Clock) -> VapidKey:
    """The stored key, or a new one stored by whichever node starts first."""
    async with db.engine.connect() as conn:
        pem = (
            await conn.execute(
                select(push_keys.c.private_pem).where(push_keys.c.name == "vapid")
            )
        ).scalar()
    if pem is None:
        key = ec.generate_private_key(ec.SECP256R1())
        made = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        try:
            async with db.engine.begin() as conn:
                await conn.execute(
                    insert(push_keys).values(
                        name="vapid", private_pem=made, created_at=clock()
                    )
                )
            log.info("VAPID key pair generated")
            pem = made
        except IntegrityError:
            # Another node stored one first; use that.
            return await load_vapid_key(db, clock)
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError("the stored VAPID key is not an EC key")
    return VapidKey(loaded, clock)
