"""The chat bot example answering a user in a thread, through real webhooks."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from azure.communication.chat import (
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationUserIdentifier,
)
from examples.chat_bot.bot import create_app

from tests.conftest import RunningServer, signed

NODE_ENV = {
    "SWITCHBOARD_EVENTS_ALLOWED_TARGETS": "127.0.0.0/8",
    "SWITCHBOARD_SHUTDOWN_GRACE_S": "1",
}


class BotProcess:
    """The bot's app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, connection: str, secret: str) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        app = create_app(connection, secret, "echo-bot")
        config = uvicorn.Config(app, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def node(server_factory: type) -> RunningServer:
    server: RunningServer = server_factory.start(env=NODE_ENV)
    return server


@pytest.fixture
def bot(node: RunningServer) -> Iterator[tuple[BotProcess, str]]:
    secret = secrets.token_urlsafe(24)
    process = BotProcess(node.connection_string, secret)
    yield process, secret
    process.stop()


def bot_messages(chat: ChatClient, thread_id: str, bot_id: str) -> list[str]:
    thread = chat.get_chat_thread_client(thread_id)
    return [
        m.content.message
        for m in thread.list_messages()
        if m.sender and m.sender.raw_id == bot_id and m.content
    ]


def test_the_bot_answers_messages_that_mention_it(
    node: RunningServer, bot: tuple[BotProcess, str]
) -> None:
    process, secret = bot
    bot_id = httpx.get(f"{process.url}/bot").json()["id"]
    body = {
        "targetUrl": f"{process.url}/events",
        "secret": secret,
        "eventTypes": ["Microsoft.Communication.ChatMessageReceived"],
    }
    path = "/eventSubscriptions/echo-bot?api-version=2026-12-01"
    assert signed(node, "PUT", path, json.dumps(body).encode()).status_code == 201

    identity = CommunicationIdentityClient.from_connection_string(
        node.connection_string
    )
    _, token = identity.create_user_and_token(["chat"])
    chat = ChatClient(node.endpoint, CommunicationTokenCredential(token.token))
    thread_id = chat.create_chat_thread(
        "Ask the bot",
        thread_participants=[
            ChatParticipant(identifier=CommunicationUserIdentifier(bot_id))
        ],
    ).chat_thread.id
    thread = chat.get_chat_thread_client(thread_id)

    # Wait for the subscription's handshake before talking.
    for _ in range(100):
        state = signed(node, "GET", path).json()["state"]
        if state == "active":
            break
        time.sleep(0.05)
    thread.send_message("no mention here", sender_display_name="Alice")
    thread.send_message("@echo-bot what is up?", sender_display_name="Alice")

    answers: list[str] = []
    for _ in range(200):
        answers = bot_messages(chat, thread_id, bot_id)
        if answers:
            break
        time.sleep(0.05)
    assert answers == ["Hello Alice, you said: what is up?"]

    # An unsigned delivery is refused by the bot.
    forged = httpx.post(f"{process.url}/events", json=[{"eventType": "x"}])
    assert forged.status_code == 401
