"""Local endpoints that speak the push providers' protocols, for tests.

One HTTPS server (hypercorn, TLS from the test CA, HTTP/2 and HTTP/1.1 by
ALPN) plays APNs, the FCM v1 API with its OAuth token endpoint, WNS with its
login endpoint, and a Web Push service. Each checks what the real service
checks (JWTs against the right keys, headers, body shapes) and answers as the
real one does, or as a test scripts it to.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.push.webpush_crypto import UserAgentKeys, unb64url

Send = Callable[[dict[str, Any]], Awaitable[None]]

APNS_TEAM = "TEAM123456"
APNS_KEY_ID = "KEY1234567"
APNS_TOPIC = "com.example.switchboard"
FCM_PROJECT = "switchboard-test"
FCM_EMAIL = "push@switchboard-test.iam.gserviceaccount.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
WNS_CLIENT = "ms-app://s-1-15-2-1234"
WNS_SECRET = "wns-secret-value"


@dataclass
class Received:
    """One push as the provider took it."""

    provider: str
    target: str
    headers: dict[str, str]
    body: bytes
    http_version: str
    payload: Any = None
    """The decoded notification: JSON for APNs, FCM's message, WNS's body, the
    decrypted Web Push payload."""


@dataclass
class Answer:
    """A scripted answer to one push."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Refused(Exception):
    """The request broke the protocol; answered 400/401/403 with the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class Providers:
    """The four providers on one local HTTPS port."""

    def __init__(self, workdir: Path, cert: Path, key: Path) -> None:
        self.workdir = workdir
        self._cert, self._key = cert, key
        self.apns_key = ec.generate_private_key(ec.SECP256R1())
        self.fcm_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.scripts: dict[str, list[Answer]] = {}
        """Answers to give, in turn, for a device token, FCM token or push id."""
        self.browsers: dict[str, UserAgentKeys] = {}
        self.opaque: set[str] = set()
        """Push ids whose keys only a real browser holds: bodies are kept as sent."""
        self.token_requests: dict[str, int] = {"fcm": 0, "wns": 0}
        self._fcm_tokens: set[str] = set()
        self._wns_tokens: set[str] = set()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # Configuration for the node under test

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}"

    def node_env(self) -> dict[str, str]:
        """Environment variables pointing a node at these providers."""
        p8 = self.workdir / "apns.p8"
        p8.write_text(_pem(self.apns_key))
        account = self.workdir / "fcm-service-account.json"
        account.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": FCM_PROJECT,
                    "private_key_id": "fcmkey1",
                    "private_key": _pem(self.fcm_key),
                    "client_email": FCM_EMAIL,
                    "token_uri": f"{self.base}/token",
                }
            )
        )
        return {
            "SWITCHBOARD_PUSH_APNS_TEAM_ID": APNS_TEAM,
            "SWITCHBOARD_PUSH_APNS_KEY_ID": APNS_KEY_ID,
            "SWITCHBOARD_PUSH_APNS_KEY_FILE": str(p8),
            "SWITCHBOARD_PUSH_APNS_TOPIC": APNS_TOPIC,
            "SWITCHBOARD_PUSH_APNS_ENDPOINT": self.base,
            "SWITCHBOARD_PUSH_FCM_SERVICE_ACCOUNT_FILE": str(account),
            "SWITCHBOARD_PUSH_FCM_ENDPOINT": self.base,
            "SWITCHBOARD_PUSH_WNS_CLIENT_ID": WNS_CLIENT,
            "SWITCHBOARD_PUSH_WNS_CLIENT_SECRET": WNS_SECRET,
            "SWITCHBOARD_PUSH_WNS_LOGIN_URL": f"{self.base}/wns/login",
            "SWITCHBOARD_PUSH_WNS_CHANNEL_HOSTS": "localhost",
            "SWITCHBOARD_PUSH_ALLOWED_TARGETS": "127.0.0.0/8",
            "SWITCHBOARD_PUSH_RETRY_BASE_S": "0.2",
            "SWITCHBOARD_PUSH_RETRY_MAX_S": "1",
            "SWITCHBOARD_PUSH_PREVIEW": "full",
        }

    def wns_channel(self) -> str:
        return f"{self.base}/wns/channel/{uuid.uuid4().hex}"

    def web_push_subscription(self) -> tuple[str, dict[str, object]]:
        """A new browser subscription: its push id and `toJSON()` form."""
        push_id = uuid.uuid4().hex
        keys = self.browsers[push_id] = UserAgentKeys()
        return push_id, keys.subscription(f"{self.base}/wp/{push_id}")

    def browser_endpoint(self) -> tuple[str, str]:
        """A push id and endpoint for a subscription whose keys a browser made."""
        push_id = uuid.uuid4().hex
        self.opaque.add(push_id)
        return push_id, f"{self.base}/wp/{push_id}"

    def revoke_tokens(self) -> None:
        """Refuse every access token handed out so far (FCM and WNS answer 401)."""
        self._fcm_tokens.clear()
        self._wns_tokens.clear()

    # What arrived

    def of(self, provider: str, target: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.provider == provider and (target is None or r.target == target)
        ]

    async def wait_for(
        self, provider: str, target: str | None = None, count: int = 1
    ) -> list[Received]:
        """The pushes for a target once `count` arrived (60 s at most)."""
        deadline = time.monotonic() + 60
        while len(self.of(provider, target)) < count:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, (
                f"{provider} {target}: {len(self.of(provider, target))} of {count} "
                f"pushes arrived; errors: {self.errors}"
            )
            await asyncio.sleep(0.05)
        assert not self.errors, self.errors
        return self.of(provider, target)

    # Running

    def start(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{self._sock.fileno()}"]
        config.certfile = str(self._cert)
        config.keyfile = str(self._key)
        config.alpn_protocols = ["h2", "http/1.1"]
        config.accesslog = None
        config.errorlog = None
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            loop.run_until_complete(
                serve(self.app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
            )
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            # hypercorn took the descriptor and has closed it.
            self._sock.detach()

    # The ASGI app

    async def app(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path: str = scope["path"]
        version: str = scope["http_version"]
        try:
            if path.startswith("/3/device/"):
                answer = self._apns(path[len("/3/device/") :], headers, body, version)
            elif path == "/token":
                answer = self._fcm_token(headers, body)
            elif path.startswith(f"/v1/projects/{FCM_PROJECT}/messages:send"):
                answer = self._fcm_send(headers, body, version)
            elif path == "/wns/login":
                answer = self._wns_login(body)
            elif path.startswith("/wns/channel/"):
                answer = self._wns(path, headers, body, version)
            elif path.startswith("/wp/"):
                answer = self._web_push(path[len("/wp/") :], headers, body, version)
            else:
                answer = Answer(404, {"error": "no such path"})
        except Refused as exc:
            self.errors.append(f"{path}: {exc.reason}")
            answer = Answer(exc.status, {"reason": exc.reason})
        except Exception as exc:
            self.errors.append(f"{path}: {exc!r}")
            answer = Answer(400, {"reason": repr(exc)})
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        response_headers = [(b"content-type", b"application/json")]
        response_headers += [
            (k.lower().encode(), v.encode()) for k, v in answer.headers.items()
        ]
        await send(
            {"type": "http.response.start", "status": answer.status,
             "headers": response_headers}
        )  # fmt: skip
        await send({"type": "http.response.body", "body": data})

    def _scripted(self, target: str, default: Answer) -> Answer:
        script = self.scripts.get(target)
        return script.pop(0) if script else default

    # APNs: "Sending notification requests to APNs"

    def _apns(
        self, token: str, headers: dict[str, str], body: bytes, version: str
    ) -> Answer:
        if version != "2":
            raise Refused(400, f"APNs takes HTTP/2 only, got HTTP/{version}")
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme != "bearer":
            raise Refused(403, "MissingProviderToken")
        public = self.apns_key.public_key()
        header = jwt.get_unverified_header(bearer)
        if header.get("alg") != "ES256" or header.get("kid") != APNS_KEY_ID:
            raise Refused(403, "InvalidProviderToken")
        try:
            claims = jwt.decode(bearer, public, algorithms=["ES256"])
        except jwt.InvalidTokenError as exc:
            raise Refused(403, f"InvalidProviderToken: {exc}") from exc
        if claims.get("iss") != APNS_TEAM or time.time() - claims["iat"] > 3600:
            raise Refused(403, "ExpiredProviderToken")
        push_type = headers.get("apns-push-type")
        topic = headers.get("apns-topic")
        expected = APNS_TOPIC + (".voip" if push_type == "voip" else "")
        if push_type not in ("alert", "voip") or topic != expected:
            raise Refused(400, f"TopicDisallowed: {push_type} to {topic}")
        if headers.get("apns-priority") not in ("5", "10"):
            raise Refused(400, "BadPriority")
        collapse = headers.get("apns-collapse-id")
        if collapse is not None and len(collapse.encode()) > 64:
            raise Refused(400, "BadCollapseId")
        if not headers.get("apns-expiration", "").isdigit():
            raise Refused(400, "BadExpirationDate")
        payload = json.loads(body)
        if "aps" not in payload or len(body) > (5120 if push_type == "voip" else 4096):
            raise Refused(400, "PayloadEmpty or PayloadTooLarge")
        answer = self._scripted(token, Answer(200))
        if answer.status == 200:
            answer.headers.setdefault("apns-id", str(uuid.uuid4()).upper())
        self.received.append(Received("apns", token, headers, body, version, payload))
        return answer

    # FCM: OAuth 2.0 JWT-bearer grant (RFC 7523) and the v1 send API

    def _fcm_token(self, headers: dict[str, str], body: bytes) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise Refused(400, "unsupported_grant_type")
        try:
            claims = jwt.decode(
                form["assertion"],
                self.fcm_key.public_key(),
                algorithms=["RS256"],
                audience=f"{self.base}/token",
            )
        except (KeyError, jwt.InvalidTokenError) as exc:
            raise Refused(400, f"invalid_grant: {exc!r}") from exc
        if claims.get("iss") != FCM_EMAIL or FCM_SCOPE not in claims.get("scope", ""):
            raise Refused(400, "invalid_scope")
        if claims["exp"] - claims["iat"] > 3600:
            raise Refused(400, "invalid_grant: lifetime over an hour")
        self.token_requests["fcm"] += 1
        token = f"ya29.{uuid.uuid4().hex}"
        self._fcm_tokens.add(token)
        return Answer(
            200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def _fcm_send(self, headers: dict[str, str], body: bytes, version: str) -> Answer:
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or bearer not in self._fcm_tokens:
            raise Refused(401, "UNAUTHENTICATED")
        message = json.loads(body)["message"]
        token = message["token"]
        data = message.get("data", {})
        if not all(isinstance(v, str) for v in data.values()):
            raise Refused(400, "INVALID_ARGUMENT: data values must be strings")
        android = message.get("android", {})
        if android.get("priority") not in ("HIGH", "NORMAL"):
            raise Refused(400, "INVALID_ARGUMENT: android.priority")
        if not str(android.get("ttl", "")).endswith("s"):
            raise Refused(400, "INVALID_ARGUMENT: android.ttl")
        answer = self._scripted(
            token,
            Answer(200, {"name": f"projects/{FCM_PROJECT}/messages/{uuid.uuid4()}"}),
        )
        self.received.append(Received("fcm", token, headers, body, version, message))
        return answer

    # WNS: client-credentials login, then POST to the channel URI

    def _wns_login(self, body: bytes) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != WNS_CLIENT
            or form.get("client_secret") != WNS_SECRET
            or form.get("scope") != "notify.windows.com"
        ):
            raise Refused(400, "invalid_client")
        self.token_requests["wns"] += 1
        token = f"EgAa{uuid.uuid4().hex}"
        self._wns_tokens.add(token)
        return Answer(
            200, {"token_type": "bearer", "access_token": token, "expires_in": 86400}
        )

    def _wns(
        self, path: str, headers: dict[str, str], body: bytes, version: str
    ) -> Answer:
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or bearer not in self._wns_tokens:
            raise Refused(401, "the access token is not valid")
        kind = headers.get("x-wns-type")
        if kind == "wns/raw":
            if headers.get("content-type") != "application/octet-stream":
                raise Refused(400, "raw notifications are application/octet-stream")
            payload: Any = json.loads(body)
        elif kind == "wns/toast":
            if headers.get("content-type") != "text/xml":
                raise Refused(400, "toasts are text/xml")
            if len(headers.get("x-wns-tag", "")) > 16:
                raise Refused(400, "X-WNS-Tag is longer than 16 characters")
            payload = body.decode()
        else:
            raise Refused(400, f"unknown X-WNS-Type {kind}")
        target = path.rsplit("/", 1)[1]
        answer = self._scripted(target, Answer(200))
        if answer.status == 200:
            answer.headers.setdefault("X-WNS-NotificationStatus", "received")
        self.received.append(Received("wns", target, headers, body, version, payload))
        return answer

    # Web Push: RFC 8030 request, RFC 8292 VAPID, RFC 8291 payload

    def _web_push(
        self, push_id: str, headers: dict[str, str], body: bytes, version: str
    ) -> Answer:
        browser = self.browsers.get(push_id)
        if browser is None and push_id not in self.opaque:
            return Answer(404)
        scheme, _, params = headers.get("authorization", "").partition(" ")
        fields = dict(
            part.strip().split("=", 1) for part in params.split(",") if "=" in part
        )
        if scheme != "vapid" or "t" not in fields or "k" not in fields:
            raise Refused(401, "RFC 8292 §3: vapid t=..., k=... is required")
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64url(fields["k"])
        )
        try:
            claims = jwt.decode(
                fields["t"], public, algorithms=["ES256"], audience=self.base
            )
        except jwt.InvalidTokenError as exc:
            raise Refused(403, f"VAPID JWT refused: {exc}") from exc
        if claims["exp"] > time.time() + 86400:
            raise Refused(403, "RFC 8292 §2: exp more than 24 hours ahead")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise Refused(403, "RFC 8292 §2.1: sub must be a mailto: or https: URI")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(415, "RFC 8291 §4: Content-Encoding must be aes128gcm")
        if not headers.get("ttl", "").isdigit():
            raise Refused(400, "RFC 8030 §5.2: TTL is required")
        if headers.get("urgency", "normal") not in (
            "very-low",
            "low",
            "normal",
            "high",
        ):
            raise Refused(400, "RFC 8030 §5.3: bad Urgency")
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not _url_safe(topic)):
            raise Refused(400, "RFC 8030 §5.4: Topic is 32 base64url characters")
        if len(body) > 4096:
            raise Refused(413, "RFC 8030 §7.2: payload too large")
        payload = None if browser is None else json.loads(browser.decrypt(body))
        answer = self._scripted(push_id, Answer(201))
        if answer.status == 201:
            answer.headers.setdefault("Location", f"{self.base}/msg/{uuid.uuid4()}")
        self.received.append(
            Received("webpush", push_id, headers, body, version, payload)
        )
        return answer


def _url_safe(text: str) -> bool:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return all(c in allowed for c in text)
