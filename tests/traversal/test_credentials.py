"""Time-limited shared-secret credentials and long-term keys."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from switchboard.traversal import issue_credentials
from switchboard.traversal.credentials import (
    check_username,
    long_term_key,
    user_of,
    username_expiry,
)
from switchboard.traversal.stun import PasswordAlgorithm

SECRET = b"north-wind"


def test_issue_credentials_follows_the_rest_api_scheme() -> None:
    credentials = issue_credentials(SECRET, "alice", 3600, 1_700_000_000.7)
    assert credentials.username == "1700003600:alice"
    assert credentials.expires_at == 1_700_003_600
    mac = hmac.new(SECRET, b"1700003600:alice", hashlib.sha1).digest()
    assert credentials.password == base64.b64encode(mac).decode()


def test_check_username_accepts_valid_and_refuses_expired() -> None:
    credentials = issue_credentials(SECRET, "bob", 60, 1000.0)
    assert check_username(SECRET, credentials.username, 1059.0) == credentials.password
    assert check_username(SECRET, credentials.username, 1060.0) is None
    assert check_username(SECRET, "bob", 1000.0) is None
    assert check_username(SECRET, "x1060:bob", 1000.0) is None
    assert check_username(b"", credentials.username, 1000.0) is None


def test_user_part_and_expiry() -> None:
    assert user_of("1700000000:carol:with:colons") == "carol:with:colons"
    assert user_of("plain") == "plain"
    assert username_expiry("1700000000:carol") == 1_700_000_000
    assert username_expiry("\u0661\u0662:carol") is None


def test_issue_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="secret"):
        issue_credentials(b"", "alice", 60, 0)
    with pytest.raises(ValueError, match="ttl_s"):
        issue_credentials(SECRET, "alice", 0, 0)


def test_long_term_keys() -> None:
    md5 = long_term_key("user", "realm", "pass")
    assert md5 == hashlib.md5(b"user:realm:pass").digest()
    sha = long_term_key("user", "realm", "pass", PasswordAlgorithm.SHA256)
    assert sha == hashlib.sha256(b"user:realm:pass").digest()
