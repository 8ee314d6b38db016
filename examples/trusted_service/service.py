"""A trusted service: it signs in its own users and hands them Switchboard tokens.

The service alone holds the Switchboard connection string. Its clients sign in
with the service's own credentials, get a session of the service's own, and
exchange that session for a short-lived Switchboard user access token obtained
with the official `azure-communication-identity` SDK.

Run it with `uvicorn service:create_app --factory --app-dir examples/trusted_service`
and `SWITCHBOARD_CONNECTION_STRING` set.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from azure.communication.identity import (
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.communication.identity.aio import CommunicationIdentityClient
from azure.core.exceptions import AzureError
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

log = logging.getLogger(__name__)

SESSION_LIFETIME_S = 8 * 3600
TOKEN_LIFETIME = timedelta(minutes=60)
TOKEN_SCOPES: list[str | CommunicationTokenScope] = [
    CommunicationTokenScope.CHAT,
    CommunicationTokenScope.VOIP,
]


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """The scrypt digest of a password and the salt it was made with."""

    salt: bytes
    digest: bytes


# RFC 7914 §2: N=2^14, r=8, p=1 costs about 16 MiB and tens of milliseconds.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str, salt: bytes) -> PasswordHash:
    """Hash a password with scrypt under the given salt."""
    return PasswordHash(salt, hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT))


def password_matches(stored: PasswordHash, password: str) -> bool:
    """Whether the password hashes to the stored digest (in constant time)."""
    candidate = hash_password(password, stored.salt).digest
    return hmac.compare_digest(candidate, stored.digest)


# The demo users: alice / wonderland, bob / the-builder and carol / in-the-house.
# A real service keeps
# these in its own database; only the salted hashes are ever stored.
DEMO_USERS = {
    "alice": PasswordHash(
        bytes.fromhex("57a23c07553cfbad8b774d91a434d7bf"),
        bytes.fromhex(
            "179d406ffcc08167f647423a705ea61e4f8c232bf14d4e79af98aba7d6d0c66e"
        ),
    ),
    "bob": PasswordHash(
        bytes.fromhex("d59b0d70718d35e89c55af1582912cb2"),
        bytes.fromhex(
            "f3633e5afdced53233167a1d454051e4de0fbf0cd86bb2a50891705ef7e811ec"
        ),
    ),
    "carol": PasswordHash(
        bytes.fromhex("8c1f2a7e44d05b9136e0aa7c58f2d913"),
        bytes.fromhex(
            "e9e2f719c09830c53980260b37c1d4ba69e5052da9e7ba1d98c5f8dc85e2ff06"
        ),
    ),
}

# Pages allowed to call the service from a browser (the Fetch standard's CORS
# protocol): the node's demo app at its default ports. Set
# TRUSTED_SERVICE_ALLOWED_ORIGINS (comma-separated) to serve other pages.
DEFAULT_ORIGINS = (
    "http://localhost:8080",
    "http://127.0.0.1:8080",
    "https://localhost:8443",
)

# Checked against when the user name is unknown, so both failures take as long.
_DECOY = hash_password("", b"\0" * 16)


class SignIn(BaseModel):
    """The body of `POST /signin`."""

    username: str
    password: str


@dataclass(slots=True)
class Session:
    """A signed-in user of this service."""

    username: str
    expires_at: float


@dataclass
class State:
    """Everything the service remembers; in memory, as befits a demo."""

    users: dict[str, PasswordHash]
    sessions: dict[str, Session] = field(default_factory=dict)
    switchboard_ids: dict[str, str] = field(default_factory=dict)
    mapping_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    identity: CommunicationIdentityClient | None = None

    def client(self) -> CommunicationIdentityClient:
        """The identity client, which exists while the app runs."""
        if self.identity is None:
            raise RuntimeError("the service has not started")
        return self.identity


async def check_password(users: dict[str, PasswordHash], name: str, pw: str) -> bool:
    """Whether the name and password belong to a demo user (hashed off the loop)."""
    stored = users.get(name, _DECOY)
    matches = await asyncio.to_thread(password_matches, stored, pw)
    return matches and name in users


async def switchboard_user(state: State, username: str) -> str:
    """The Switchboard user id of an app user, created on first use."""
    lock = state.mapping_locks.setdefault(username, asyncio.Lock())
    async with lock:
        known = state.switchboard_ids.get(username)
        if known is not None:
            return known

        created = await state.client().create_user()
        state.switchboard_ids[username] = created.raw_id
        log.info("mapped %s to a new Switchboard user %s", username, created.raw_id)
        return created.raw_id


def bearer(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer` header, or an empty string."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def signed_in(state: State, authorization: str | None) -> Session:
    """The session named by an `Authorization: Bearer` header, or a 401."""
    session = state.sessions.get(bearer(authorization))
    if session is None or session.expires_at < time.monotonic():
        raise HTTPException(
            401, "sign in first", headers={"WWW-Authenticate": "Bearer"}
        )
    return session


def allowed_origins(configured: list[str] | None) -> list[str]:
    """The origins whose pages may call the service: given, from the env, or default."""
    if configured is not None:
        return configured
    text = os.environ.get("TRUSTED_SERVICE_ALLOWED_ORIGINS", "")
    listed = [origin.strip() for origin in text.split(",") if origin.strip()]
    return listed or list(DEFAULT_ORIGINS)


def create_app(
    connection_string: str | None = None, origins: list[str] | None = None
) -> FastAPI:
    """Build the service; the connection string defaults to the environment's."""
    connection = connection_string or os.environ.get("SWITCHBOARD_CONNECTION_STRING")
    if not connection:
        raise RuntimeError("set SWITCHBOARD_CONNECTION_STRING")
    state = State(users=dict(DEMO_USERS))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with CommunicationIdentityClient.from_connection_string(
            connection
        ) as identity:
            state.identity = identity
            yield
            state.identity = None

    app = FastAPI(title="Switchboard trusted service example", lifespan=lifespan)
    # Sessions travel in the Authorization header, never in cookies.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed_origins(origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )

    @app.exception_handler(AzureError)
    async def switchboard_failed(_: Request, exc: AzureError) -> JSONResponse:
        log.warning("Switchboard call failed: %s", type(exc).__name__)
        return JSONResponse({"detail": "Switchboard is unavailable"}, status_code=502)

    @app.post("/signin")
    async def sign_in(body: SignIn) -> dict[str, object]:
        """Check the password, open a session, make sure a Switchboard user exists."""
        if not await check_password(state.users, body.username, body.password):
            raise HTTPException(401, "wrong user name or password")

        switchboard_id = await switchboard_user(state, body.username)
        now = time.monotonic()
        state.sessions = {
            key: held for key, held in state.sessions.items() if held.expires_at > now
        }
        session_id = secrets.token_urlsafe(32)
        expires_at = now + SESSION_LIFETIME_S
        state.sessions[session_id] = Session(body.username, expires_at)
        log.info("%s signed in", body.username)
        return {
            "session": session_id,
            "expiresIn": SESSION_LIFETIME_S,
            "switchboardUserId": switchboard_id,
        }

    @app.post("/signout", status_code=204)
    async def sign_out(authorization: Annotated[str | None, Header()] = None) -> None:
        """End the caller's session."""
        signed_in(state, authorization)
        del state.sessions[bearer(authorization)]

    @app.post("/switchboard-token")
    async def switchboard_token(
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        """A fresh Switchboard user access token for the signed-in user."""
        session = signed_in(state, authorization)

        switchboard_id = await switchboard_user(state, session.username)
        issued = await state.client().get_token(
            CommunicationUserIdentifier(switchboard_id),
            TOKEN_SCOPES,
            token_expires_in=TOKEN_LIFETIME,
        )
        return {
            "userId": switchboard_id,
            "token": issued.token,
            "expiresOn": str(issued.expires_on),
        }

    @app.get("/contacts")
    async def contacts(
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, list[dict[str, str]]]:
        """Every user of the service with its Switchboard id, so users can call."""
        signed_in(state, authorization)

        listed = []
        for username in sorted(state.users):
            switchboard_id = await switchboard_user(state, username)
            listed.append({"username": username, "switchboardUserId": switchboard_id})
        return {"value": listed}

    return app
