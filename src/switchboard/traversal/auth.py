"""Long-term credential checks for TURN requests (RFC 8489 §9.2, RFC 8656 §5).

Nonces are stateless: each carries its expiry and an HMAC under a key the
server picks at start, bound to the client's IP, so nothing is stored per
nonce and a restarted server simply answers 438 to old ones.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.traversal import credentials
from switchboard.traversal.stun import (
    AttributeType,
    ErrorCode,
    Message,
    PasswordAlgorithm,
    StunError,
    check_integrity,
    decode_password_algorithms,
    decode_text,
    encode_password_algorithms,
)

# RFC 8489 §9.2: nonce cookie "obMatJos2" then the 24 security feature bits,
# base64; bit 0 (the most significant) is "Password algorithms".
NONCE_COOKIE = "obMatJos2"
_FEATURES_PASSWORD_ALGORITHMS = base64.b64encode(b"\x80\x00\x00").decode()
SUPPORTED_ALGORITHMS = (PasswordAlgorithm.MD5, PasswordAlgorithm.SHA256)
SUPPORTED_ALGORITHMS_VALUE = encode_password_algorithms(SUPPORTED_ALGORITHMS)


class AuthFailure(enum.Enum):
    """Why a request failed authentication, with the error code it earns."""

    MISSING = "missing"
    BAD_REQUEST = "bad_request"
    STALE_NONCE = "stale_nonce"
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"

    @property
    def code(self) -> ErrorCode:
        """The error code the request is answered with."""
        if self is AuthFailure.BAD_REQUEST:
            return ErrorCode.BAD_REQUEST
        if self is AuthFailure.STALE_NONCE:
            return ErrorCode.STALE_NONCE
        return ErrorCode.UNAUTHENTICATED


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A request that authenticated: who, the key, and which MAC it used."""

    username: str
    key: bytes
    sha256: bool


class AuthError(Exception):
    """A request that did not authenticate."""

    def __init__(self, failure: AuthFailure, detail: str) -> None:
        super().__init__(f"{failure.name}: {detail}")
        self.failure = failure
        self.detail = detail


class Authenticator:
    """Issues nonces and checks long-term credentials on TURN requests."""

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        nonce_lifetime_s: float,
        advertise_password_algorithms: bool,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.realm = realm
        self._secret = secret
        self._nonce_lifetime_s = nonce_lifetime_s
        self._advertise = advertise_password_algorithms
        self._clock = clock
        self._wall_clock = wall_clock
        self._nonce_key = os.urandom(16)
        self._cache: dict[str, tuple[str, bytes]] = {}

    @property
    def advertises_password_algorithms(self) -> bool:
        """Whether 401/438 answers carry PASSWORD-ALGORITHMS."""
        return self._advertise

    def new_nonce(self, client_host: str) -> str:
        """A fresh nonce for a client IP."""
        expiry = int(self._clock() + self._nonce_lifetime_s)
        prefix = NONCE_COOKIE + _FEATURES_PASSWORD_ALGORITHMS if self._advertise else ""
        body = f"{prefix}{expiry:x}"
        return f"{body}.{self._nonce_mac(body, client_host)}"

    def _nonce_mac(self, body: str, client_host: str) -> str:
        material = f"{body}|{client_host}".encode()
        return hmac.new(self._nonce_key, material, hashlib.sha256).hexdigest()[:20]

    def _nonce_valid(self, nonce: str, client_host: str) -> bool:
        body, _, mac = nonce.rpartition(".")
        if not hmac.compare_digest(mac, self._nonce_mac(body, client_host)):
            return False
        stamp = body.removeprefix(NONCE_COOKIE + _FEATURES_PASSWORD_ALGORITHMS)
        try:
            expiry = int(stamp, 16)
        except ValueError:
            return False
        return self._clock() < expiry

    # RFC 8489 §9.2.4: receiving a request with long-term credentials.
    def authenticate(self, request: Message, client_host: str) -> AuthResult:
        """Check a request's credentials; raise AuthError saying why not."""
        has_mac = any(
            a.type
            in (
                AttributeType.MESSAGE_INTEGRITY,
                AttributeType.MESSAGE_INTEGRITY_SHA256,
            )
            for a in request.attributes
        )
        if not has_mac:
            raise AuthError(AuthFailure.MISSING, "no MESSAGE-INTEGRITY")

        # Username, realm and nonce must all be there.
        raw_username = request.get(AttributeType.USERNAME)
        raw_realm = request.get(AttributeType.REALM)
        raw_nonce = request.get(AttributeType.NONCE)
        if raw_username is None or raw_realm is None or raw_nonce is None:
            # USERHASH alone cannot be resolved: shared-secret usernames are
            # not stored anywhere, so such requests are answered 400.
            raise AuthError(AuthFailure.BAD_REQUEST, "USERNAME, REALM or NONCE absent")
        username = decode_text(raw_username, AttributeType.USERNAME)
        realm = decode_text(raw_realm, AttributeType.REALM)
        nonce = decode_text(raw_nonce, AttributeType.NONCE)

        # Nonce, then the password algorithm the client picked.
        if not self._nonce_valid(nonce, client_host):
            raise AuthError(AuthFailure.STALE_NONCE, "nonce expired or unknown")
        algorithm = self._algorithm(request, nonce)

        # Shared-secret username, then the MAC.
        if realm != self.realm:
            raise AuthError(AuthFailure.UNKNOWN_USER, "realm mismatch")
        password = credentials.check_username(
            self._secret, username, self._wall_clock()
        )
        if password is None:
            raise AuthError(AuthFailure.UNKNOWN_USER, "username unknown or expired")
        key = self._key(username, password, algorithm)
        if not check_integrity(request, key):
            raise AuthError(AuthFailure.WRONG_PASSWORD, "integrity check failed")
        sha256 = request.get(AttributeType.MESSAGE_INTEGRITY_SHA256) is not None
        return AuthResult(username, key, sha256)

    def _algorithm(self, request: Message, nonce: str) -> PasswordAlgorithm:
        offered = request.get(AttributeType.PASSWORD_ALGORITHMS)
        chosen = request.get(AttributeType.PASSWORD_ALGORITHM)
        if offered is None and chosen is None:
            return PasswordAlgorithm.MD5
        if not nonce.startswith(NONCE_COOKIE) or offered is None or chosen is None:
            raise AuthError(AuthFailure.BAD_REQUEST, "password algorithm incomplete")
        if offered != SUPPORTED_ALGORITHMS_VALUE:
            raise AuthError(AuthFailure.BAD_REQUEST, "PASSWORD-ALGORITHMS altered")
        try:
            (number,) = decode_password_algorithms(chosen)
            return PasswordAlgorithm(number)
        except (ValueError, StunError) as exc:
            raise AuthError(AuthFailure.BAD_REQUEST, "bad PASSWORD-ALGORITHM") from exc

    def _key(self, username: str, password: str, algorithm: PasswordAlgorithm) -> bytes:
        # Hashing the key costs as much as the MAC; remember the last few.
        cache_key = f"{int(algorithm)}|{username}"
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] == password:
            return cached[1]
        key = credentials.long_term_key(username, self.realm, password, algorithm)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[cache_key] = (password, key)
        return key
