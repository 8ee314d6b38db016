"""The provider clients' credentials: tokens obtained, cached, renewed on refusal."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from switchboard.config import PushSettings, load_settings
from switchboard.push.providers.apns import TOKEN_REUSE_S, ProviderToken
from switchboard.push.providers.base import Verdict
from switchboard.push.providers.fcm import FcmProvider
from switchboard.push.providers.wns import WnsProvider
from switchboard.push.records import Platform, Push, PushKind, Registration
from switchboard.push.vapid import load_vapid_key
from switchboard.storage.engine import Database
from tests.push.providers import APNS_KEY_ID, APNS_TEAM, Providers
from tests.push.webpush_crypto import unb64url

PUSH = Push(PushKind.CALL, {"type": "incomingCall", "callId": "c-1"}, "", 30)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _settings(providers: Providers) -> PushSettings:
    return load_settings(environ=providers.node_env()).push


def _device(platform: Platform, token: str) -> Registration:
    return Registration(
        str(uuid.uuid4()), "8:acs:r_u", platform, "app", token, None, None, 0, 0, 9e9
    )


async def test_fcm_reuses_its_access_token_and_renews_it_when_refused(
    providers: Providers,
) -> None:
    fcm = FcmProvider(_settings(providers), Clock())
    device = _device(Platform.FCM, "fcm-auth-" + "q" * 30)
    before = providers.token_requests["fcm"]
    try:
        first = await fcm.send(device, PUSH)
        second = await fcm.send(device, PUSH)
        providers.revoke_tokens()
        refused = await fcm.send(device, PUSH)
        renewed = await fcm.send(device, PUSH)
    finally:
        await fcm.close()

    assert [first.verdict, second.verdict] == [Verdict.SENT, Verdict.SENT]
    assert refused.verdict is Verdict.RETRY
    assert "401" in refused.detail
    assert renewed.verdict is Verdict.SENT
    assert providers.token_requests["fcm"] - before == 2


async def test_wns_reuses_its_access_token_and_renews_it_when_refused(
    providers: Providers,
) -> None:
    wns = WnsProvider(_settings(providers), Clock())
    device = _device(Platform.WNS, providers.wns_channel())
    before = providers.token_requests["wns"]
    try:
        first = await wns.send(device, PUSH)
        second = await wns.send(device, PUSH)
        providers.revoke_tokens()
        refused = await wns.send(device, PUSH)
        renewed = await wns.send(device, PUSH)
    finally:
        await wns.close()

    assert [first.verdict, second.verdict] == [Verdict.SENT, Verdict.SENT]
    assert (refused.verdict, renewed.verdict) == (Verdict.RETRY, Verdict.SENT)
    assert providers.token_requests["wns"] - before == 2


async def test_wns_sends_only_to_wns_hosts(providers: Providers) -> None:
    wns = WnsProvider(_settings(providers), Clock())
    try:
        outcome = await wns.send(
            _device(Platform.WNS, "https://attacker.example/channel"), PUSH
        )
    finally:
        await wns.close()

    assert outcome.verdict is Verdict.GONE


def test_the_apns_provider_token_is_reused_for_40_minutes(
    providers: Providers,
) -> None:
    clock = Clock()
    key = providers.apns_key
    pem = Path(providers.node_env()["SWITCHBOARD_PUSH_APNS_KEY_FILE"]).read_text()
    token = ProviderToken(APNS_TEAM, APNS_KEY_ID, pem, clock)

    first = token.get()
    clock.now += TOKEN_REUSE_S - 1
    same = token.get()
    clock.now += 1
    renewed = token.get()
    token.invalidate()
    after_refusal = token.get()

    assert first == same != renewed
    assert after_refusal != renewed
    claims = jwt.decode(
        renewed, key.public_key(), algorithms=["ES256"], options={"verify_iat": False}
    )
    assert claims == {"iss": APNS_TEAM, "iat": int(clock.now)}
    assert jwt.get_unverified_header(renewed)["kid"] == APNS_KEY_ID


async def test_every_node_signs_with_the_one_stored_vapid_key(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'vapid.db'}")
    await db.migrate()
    clock = Clock()
    try:
        first = await load_vapid_key(db, clock)
        second = await load_vapid_key(db, clock)
    finally:
        await db.close()

    header = second.authorization("https://push.example.net/wp/123", "mailto:ops@x")
    scheme, _, params = header.partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(", "))
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unb64url(fields["k"])
    )
    claims = jwt.decode(
        fields["t"],
        public,
        algorithms=["ES256"],
        audience="https://push.example.net",
        options={"verify_exp": False},
    )
    assert first.public_key == second.public_key == fields["k"]
    assert scheme == "vapid"
    assert claims["sub"] == "mailto:ops@x"
    assert 0 < claims["exp"] - clock.now <= 86400
