"""A chat bot driven by Switchboard events.

It is a Switchboard user of its own. Switchboard POSTs a `ChatMessageReceived`
event to the bot's webhook for every message in a thread the bot is in; the bot
checks the delivery's signature, and when a message mentions it (`@<name>`) it
answers in the thread through the official `azure-communication-chat` SDK.

Configuration, from the environment:
- `SWITCHBOARD_CONNECTION_STRING`: the resource's connection string, used only to
  create the bot's user and its tokens;
- `BOT_WEBHOOK_SECRET`: the secret of the event subscription that targets
  `POST /events` on this service (see README.md);
- `BOT_NAME` (default `echo-bot`) and `BOT_USER_ID` (to keep the same user
  across restarts; a new user is created when absent).

Run it with `uvicorn bot:create_app --factory --app-dir examples/chat_bot`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.communication.chat.aio import ChatClient, CommunicationTokenCredential
from azure.communication.identity import (
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.communication.identity.aio import CommunicationIdentityClient
from azure.core.credentials import AccessToken
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

MESSAGE_RECEIVED = "Microsoft.Communication.ChatMessageReceived"
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
SIGNATURE_TOLERANCE_S = 300


def signature_is_valid(secret: str, body: bytes, header: str, now: float) -> bool:
    """Check `Switchboard-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp = fields.get("t", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > SIGNATURE_TOLERANCE_S:
        return False
    expected = hmac.new(
        secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def endpoint_of(connection_string: str) -> str:
    """The endpoint in a connection string, as the chat SDK wants it."""
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    endpoint = {k.lower(): v for k, v in parts.items()}["endpoint"]
    return endpoint.rstrip("/")


@dataclass
class Bot:
    """The bot's identity, its chat client and what it has already answered."""

    name: str
    user_id: str
    chat: ChatClient
    secret: str
    seen: OrderedDict[str, None]

    def addressed(self, text: str) -> bool:
        """Whether a message mentions the bot."""
        return f"@{self.name}".lower() in text.lower()

    def reply_to(self, text: str, sender_name: str) -> str:
        """What the bot answers: the message back, without the mention."""
        said = text.replace(f"@{self.name}", "").strip()
        return f"Hello {sender_name or 'there'}, you said: {said}"

    async def handle(self, event: dict[str, Any]) -> None:
        """Answer one `ChatMessageReceived` event if it is for the bot."""
        data = event.get("data") or {}
        recipient = (data.get("recipientCommunicationIdentifier") or {}).get("rawId")
        if recipient != self.user_id:
            return
        # Deliveries are at least once: the same event id may come again.
        event_id = str(event.get("id"))
        if event_id in self.seen:
            return
        self.seen[event_id] = None
        if len(self.seen) > 10_000:
            self.seen.popitem(last=False)

        text = str(data.get("messageBody", ""))
        if not self.addressed(text):
            return
        thread = self.chat.get_chat_thread_client(str(data["threadId"]))
        await thread.send_message(
            self.reply_to(text, str(data.get("senderDisplayName", ""))),
            sender_display_name=self.name,
        )
        log.info("answered message %s in %s", data.get("messageId"), data["threadId"])


async def _bot_credential(
    identity: CommunicationIdentityClient, user: CommunicationUserIdentifier
) -> CommunicationTokenCredential:
    """The bot's own chat token, renewed through the identity API before it ends."""

    async def refresh() -> AccessToken:
        token = await identity.get_token(
            user, [CommunicationTokenScope.CHAT], token_expires_in=timedelta(hours=1)
        )
        # The identity SDK hands expires_on back as text; the credential wants a time.
        expires = int(time.time()) + 3600
        return AccessToken(token.token, expires)

    first = await refresh()
    return CommunicationTokenCredential(
        first.token, token_refresher=refresh, proactive_refresh=True
    )


def create_app(
    connection: str | None = None, secret: str | None = None, name: str | None = None
) -> FastAPI:
    """The bot's web app: `POST /events` receives Switchboard's deliveries.

    Arguments left out are read from the environment (see the module docstring).
    """
    connection = connection or os.environ["SWITCHBOARD_CONNECTION_STRING"]
    secret = secret or os.environ["BOT_WEBHOOK_SECRET"]
    name = name or os.environ.get("BOT_NAME", "echo-bot")
    state: dict[str, Bot] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        identity = CommunicationIdentityClient.from_connection_string(connection)
        user_id = os.environ.get("BOT_USER_ID") or (await identity.create_user()).raw_id
        user = CommunicationUserIdentifier(user_id)
        credential = await _bot_credential(identity, user)
        chat = ChatClient(endpoint_of(connection), credential)
        state["bot"] = Bot(name, user_id, chat, secret, OrderedDict())
        log.info("bot %s is %s", name, user_id)
        yield
        await chat.close()
        await identity.close()

    app = FastAPI(title="Switchboard chat bot", lifespan=lifespan)

    @app.get("/bot")
    async def who() -> dict[str, str]:
        """The bot's user id, to add it to threads."""
        return {"name": name, "id": state["bot"].user_id}

    @app.options("/events")
    async def handshake(request: Request) -> Response:
        """CloudEvents abuse protection: allow the origin that asks."""
        origin = request.headers.get("WebHook-Request-Origin", "")
        return Response(headers={"WebHook-Allowed-Origin": origin})

    @app.post("/events")
    async def events(request: Request) -> Response:
        """Receive deliveries in either envelope."""
        body = await request.body()
        signature = request.headers.get("Switchboard-Signature", "")
        if not signature_is_valid(secret, body, signature, time.time()):
            return Response(status_code=401)
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            kind = item.get("eventType") or item.get("type")
            if kind == VALIDATION:
                code = item["data"]["validationCode"]
                return JSONResponse({"validationResponse": code})
            if kind == MESSAGE_RECEIVED:
                await state["bot"].handle(item)
        return Response(status_code=200)

    return app
