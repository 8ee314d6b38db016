"""The provider clients: credentials obtained, cached, renewed; transient failures."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path
from typing import NoReturn

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from switchboard.config import PushSettings, load_settings
from switchboard.core.netguard import PeerGuard
from switchboard.events.webhook import WebhookClient
from switchboard.push.providers.apns import TOKEN_REUSE_S, ProviderToken
from switchboard.push.providers.base import Verdict
from switchboard.push.providers.fcm import FcmProvider
from switchboard.push.providers.webpush import WebPushProvider
from switchboard.push.providers.wns import WnsProvider
from switchboard.push.records import Platform, Push, PushKind, Registration
from switchboard.push.vapid import VapidKey, load_vapid_key
from switchboard.storage.engine import Database
from tests.push.providers import APNS_KEY_ID, APNS_TEAM, Providers
from tests.push.webpush_crypto import UserAgentKeys, b64url, unb64url

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


async def test_web_push_is_retried_while_the_push_service_name_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = UserAgentKeys()
    device = Registration(
        str(uuid.uuid4()), "8:acs:r_u", Platform.WEBPUSH, "web",
        "https://push.example.net/send/abc",
        b64url(keys.public_bytes), b64url(keys.auth), 0, 0, 9e9,
    )  # fmt: skip
    vapid = VapidKey(ec.generate_private_key(ec.SECP256R1()), time.time)
    http = WebhookClient(PeerGuard(), timeout_s=1)
    provider = WebPushProvider(
        load_settings(environ={}).push,
        vapid,
        "https://switchboard.test",
        http,
        time.time,
    )

    for code in (socket.EAI_AGAIN, socket.EAI_NONAME):

        async def down(*args: object, code: int = code, **kwargs: object) -> NoReturn:
            raise socket.gaierror(code, "DNS is down")

        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", down)
        outcome = await provider.send(device, PUSH)
        assert outcome.verdict is Verdict.RETRY
        assert "cannot resolve push.example.net" in outcome.detail
    await provider.close()
