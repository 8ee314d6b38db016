"""User access tokens: ES256 JWTs issued by the resource and checked on every request.

The official Python SDK reads the payload with the standard base64 alphabet
(WIRE.md §1.4), so the payload segment must never contain `-` or `_`. In ASCII
JSON only `>`, `?`, `~` and DEL can produce those sextets, so they are escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from switchboard.auth.scopes import Scope
from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError, ErrorCode, forbidden, unauthorized
from switchboard.core.ids import UserId, parse_user_id

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
_UNSAFE_FOR_STD_BASE64 = str.maketrans(
    {">": "\\u003e", "?": "\\u003f", "~": "\\u007e", "\x7f": "\\u007f"}
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A token-signing key pair and its id."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh P-256 key."""
        return cls.from_private_key(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_key(cls, key: ec.EllipticCurvePrivateKey) -> SigningKey:
        """Wrap a key, deriving its id from the public half."""
        public = key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        digest = base64.urlsafe_b64encode(hashlib.sha256(public).digest()[:12])
        return cls(kid="sb-" + digest.decode(), private_key=key)

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        """Load a key stored as PKCS#8 PEM."""
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a token-signing key must be an EC key")
        return cls.from_private_key(key)

    def to_pem(self) -> str:
        """The private key as PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK for the key set endpoint."""
        numbers = self.private_key.public_key().public_numbers()

        def b64(value: int) -> str:
            return (
                base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")
            )

        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x),
            "y": b64(numbers.y),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed token and when it expires (epoch seconds)."""

    token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    user: UserId
    scopes: frozenset[Scope]
    issued_at: float
    expires_at: int


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TokenIssuer:
    """Signs tokens for users of one resource."""

    def __init__(self, resource_id: str, key: SigningKey, clock: Clock) -> None:
        self._resource_id = resource_id
        self._key = key
        self._clock = clock

    def issue(
        self, user: UserId, scopes: tuple[Scope, ...], expires_in_minutes: int
    ) -> IssuedToken:
        """A token for `user` with `scopes`, valid for the given minutes."""
        now = self._clock()
        issued = int(now)
        expires = issued + expires_in_minutes * 60
        claims = {
            "skypeid": user.raw.removeprefix("8:"),
            "sub": user.raw,
            "scp": 1792,
            "csi": str(issued),
            "iat": issued,
            "exp": expires,
            # Microseconds, so that a revocation in the same second is exact.
            "sbiat": int(now * 1_000_000),
            "acsScope": ",".join(scope.value for scope in scopes),
            "resourceId": self._resource_id,
        }
        text = json.dumps(claims, separators=(",", ":"))
        payload = text.translate(_UNSAFE_FOR_STD_BASE64).encode()
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self._key.kid}
        token = jwt.api_jws.encode(
            payload, self._key.private_key, algorithm=ALGORITHM, headers=header
        )
        segment = token.split(".")[1]
        if "-" in segment or "_" in segment:
            raise AssertionError("token payload is not readable with standard base64")
        return IssuedToken(token=token, expires_at=expires)


@dataclass(frozen=True, slots=True)
class UserState:
    """What verification needs to know of a user."""

    deleted: bool
    revoked_before: float


class UserStates(Protocol):
    """Looks up a user's state for token verification."""

    async def user_state(self, user: UserId) -> UserState | None:
        """The user's state, or None when no such user exists."""
        ...


class TokenVerifier:
    """The one path every endpoint takes to accept a user token."""

    def __init__(
        self,
        resource_id: str,
        keys: list[SigningKey],
        users: UserStates,
        clock: Clock,
    ) -> None:
        self._resource_id = resource_id
        self._keys = {key.kid: key.private_key.public_key() for key in keys}
        self._users = users
        self._clock = clock

    async def verify(
        self, token: str, allowed_scopes: frozenset[Scope] | None = None
    ) -> Principal:
        """Check signature, expiry, scope, user and revocation; 401/403 on failure."""
        # Signature and expiry
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("the access token is malformed") from exc
        public_key = self._keys.get(str(header.get("kid")))
        if public_key is None:
            raise unauthorized("the access token was not signed by this resource")
        now = self._clock()
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                options={
                    "require": ["exp", "iat", "sub"],
                    # Time is judged below by the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"the access token is invalid: {exc}") from exc
        if claims["exp"] <= now:
            raise unauthorized("the access token has expired")

        # Subject
        user = parse_user_id(str(claims["sub"]))
        if user is None or claims.get("resourceId") != self._resource_id:
            raise unauthorized("the access token names no user of this resource")
        issued_at = int(claims.get("sbiat", int(claims["iat"]) * 1_000_000)) / 1e6

        # Scope
        try:
            scopes = frozenset(
                Scope(s) for s in str(claims.get("acsScope", "")).split(",") if s
            )
        except ValueError as exc:
            raise unauthorized("the access token carries an unknown scope") from exc
        if allowed_scopes is not None and not scopes & allowed_scopes:
            wanted = " or ".join(sorted(s.value for s in allowed_scopes))
            raise forbidden(f"the access token needs the {wanted} scope")

        # User and revocation
        state = await self._users.user_state(user)
        if state is None or state.deleted:
            raise unauthorized("the user of this access token no longer exists")
        if issued_at < state.revoked_before:
            raise unauthorized("the access token has been revoked")
        return Principal(user, scopes, issued_at, int(claims["exp"]))


def bearer_token(authorization: str | None) -> str:
    """The token in an `Authorization: Bearer` header, or a 401."""
    if not authorization:
        raise unauthorized("the request has no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AcsError(
            401,
            ErrorCode.UNAUTHORIZED,
            "the Authorization header must be a Bearer token",
        )
    return token.strip()
