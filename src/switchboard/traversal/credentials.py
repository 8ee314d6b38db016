"""TURN credentials: time-limited shared-secret usernames and long-term keys.

The shared-secret scheme is the one known as the "TURN REST API" (and as
coturn's ``use-auth-secret``): the username is ``<expiry-unix-seconds>:<user>``
and the password is base64(HMAC-SHA1(secret, username)), so any server that
knows the secret can check it without a database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from switchboard.traversal.stun import PasswordAlgorithm


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    """A username and password valid until ``expires_at`` (Unix seconds)."""

    username: str
    password: str
    expires_at: int


def derive_password(secret: bytes, username: str) -> str:
    """The password the shared secret gives for a username."""
    mac = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def issue_credentials(
    secret: bytes, user: str, ttl_s: int, now: float
) -> TurnCredentials:
    """Issue credentials for ``user`` valid for ``ttl_s`` seconds from ``now``."""
    if not secret:
        raise ValueError("TURN shared secret is empty")
    if ttl_s <= 0:
        raise ValueError("TURN credential ttl_s must be positive")
    expires_at = int(now) + ttl_s
    username = f"{expires_at}:{user}"
    return TurnCredentials(username, derive_password(secret, username), expires_at)


def username_expiry(username: str) -> int | None:
    """The expiry encoded in a shared-secret username, or None if malformed."""
    stamp, _, _ = username.partition(":")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return None
    return int(stamp)


def check_username(secret: bytes, username: str, now: float) -> str | None:
    """The password for a still-valid shared-secret username, else None.

    A username whose expiry is malformed or at or before ``now`` (Unix
    seconds) is refused; the server answers it like a wrong password.
    """
    expiry = username_expiry(username)
    if expiry is None or expiry <= now or not secret:
        return None
    return derive_password(secret, username)


def user_of(username: str) -> str:
    """The user part of a shared-secret username (the whole name otherwise)."""
    stamp, sep, user = username.partition(":")
    return user if sep and stamp.isdigit() else username


# RFC 8489 §9.2.2: the long-term key is a hash of username:realm:password.
def long_term_key(
    username: str,
    realm: str,
    password: str,
    algorithm: PasswordAlgorithm = PasswordAlgorithm.MD5,
) -> bytes:
    """The long-term credential key (MD5 or SHA-256 per the password algorithm).

    RFC 8489 asks for OpaqueString (RFC 8265) preparation of realm and
    password; this uses them as given, which is the same for ASCII values.
    """
    material = f"{username}:{realm}:{password}".encode()
    if algorithm == PasswordAlgorithm.SHA256:
        return hashlib.sha256(material).digest()
    return hashlib.md5(material).digest()
