"""User access tokens: issuing, the one verification path, and the SDK's quirks."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
from azure.communication.chat._shared.utils import create_access_token

from switchboard.auth.scopes import CHAT_SCOPES, VOIP_SCOPES, Scope
from switchboard.auth.tokens import SigningKey, TokenIssuer, TokenVerifier
from switchboard.bus import MemoryBus
from switchboard.core.errors import AcsError
from switchboard.core.ids import new_user_id
from switchboard.identity.service import IdentityService
from switchboard.storage.engine import Database

RESOURCE = "0b0c5c6e-5f2e-4c39-9d57-0a4f0a3a1e11"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Parts:
    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.clock = clock
        self.key = SigningKey.generate()
        self.issuer = TokenIssuer(RESOURCE, self.key, clock)
        self.identity = IdentityService(
            db, MemoryBus(), self.issuer, RESOURCE, clock, cache_s=30
        )
        self.verifier = TokenVerifier(RESOURCE, [self.key], self.identity, clock)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}")
    await db.migrate()
    yield Parts(db, FakeClock())
    await db.close()


async def test_payload_is_readable_with_standard_base64(parts: Parts) -> None:
    user = await parts.identity.create_user()
    for minutes in range(60, 1441, 3):
        for scopes in ((Scope.CHAT,), (Scope.VOIP, Scope.CHAT_JOIN_LIMITED)):
            parts.clock.now += 0.37
            token = parts.issuer.issue(user, scopes, minutes).token
            segment = token.split(".")[1]
            assert "-" not in segment and "_" not in segment
            # The official SDK's own decoder, exactly as CommunicationTokenCredential
            # uses it.
            assert create_access_token(token).expires_on == int(parts.clock.now) + (
                minutes * 60
            )


async def test_claims_name_the_user_scopes_and_resource(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT, Scope.VOIP), 60).token
    claims = json.loads(base64.b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == user.raw
    assert claims["skypeid"] == user.raw.removeprefix("8:")
    assert claims["acsScope"] == "chat,voip"
    assert claims["resourceId"] == RESOURCE
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["kid"] == parts.key.kid


async def test_a_customer_backend_verifies_with_the_published_key(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    jwks = jwt.PyJWKSet.from_dict({"keys": [parts.key.public_jwk()]})
    public = jwks[parts.key.kid].key
    claims = jwt.decode(
        token, public, algorithms=["ES256"], options={"verify_exp": 0, "verify_iat": 0}
    )
    assert claims["sub"] == user.raw


async def test_verify_accepts_a_good_token(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    principal = await parts.verifier.verify(token, CHAT_SCOPES)
    assert principal.user == user
    assert principal.scopes == frozenset({Scope.CHAT})


async def expect(parts: Parts, token: str, status: int, message: str) -> None:
    with pytest.raises(AcsError) as caught:
        await parts.verifier.verify(token, CHAT_SCOPES)
    assert caught.value.status == status
    assert caught.value.message == message


async def test_expiry(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    parts.clock.now += 3599
    await parts.verifier.verify(token, CHAT_SCOPES)
    parts.clock.now += 1
    await expect(parts, token, 401, "the access token has expired")


async def test_a_token_without_the_scope_is_forbidden(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.VOIP,), 60).token
    await expect(
        parts, token, 403, "the access token needs the chat or chat.join or "
        "chat.join.limited scope",
    )  # fmt: skip
    assert (await parts.verifier.verify(token, VOIP_SCOPES)).user == user


async def test_tampering_and_foreign_keys(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    header, payload, signature = token.split(".")

    other = new_user_id(RESOURCE)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = other.raw
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    await expect(
        parts,
        f"{header}.{forged}.{signature}",
        401,
        "the access token is invalid: Signature verification failed",
    )

    stranger = TokenIssuer(RESOURCE, SigningKey.generate(), parts.clock)
    await expect(
        parts,
        stranger.issue(user, (Scope.CHAT,), 60).token,
        401,
        "the access token was not signed by this resource",
    )
    await expect(parts, "not.a.token", 401, "the access token is malformed")

    foreign = TokenIssuer("another-resource", parts.key, parts.clock)
    await expect(
        parts,
        foreign.issue(user, (Scope.CHAT,), 60).token,
        401,
        "the access token names no user of this resource",
    )


async def test_revocation_is_exact_within_a_second(parts: Parts) -> None:
    user = await parts.identity.create_user()
    before = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    parts.clock.now += 0.001
    await parts.identity.revoke_tokens(user)
    parts.clock.now += 0.001
    after = parts.issuer.issue(user, (Scope.CHAT,), 60).token

    await expect(parts, before, 401, "the access token has been revoked")
    assert (await parts.verifier.verify(after, CHAT_SCOPES)).user == user


async def test_a_deleted_or_unknown_user_has_no_valid_token(parts: Parts) -> None:
    user = await parts.identity.create_user()
    token = parts.issuer.issue(user, (Scope.CHAT,), 60).token
    await parts.verifier.verify(token, CHAT_SCOPES)
    await parts.identity.delete_user(user)
    await expect(parts, token, 401, "the user of this access token no longer exists")

    ghost = parts.issuer.issue(new_user_id(RESOURCE), (Scope.CHAT,), 60).token
    await expect(parts, ghost, 401, "the user of this access token no longer exists")
