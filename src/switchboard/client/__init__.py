"""The Python client SDK: realtime events and the chat calls bots and tests need."""

from switchboard.client.chat import ChatClient, ChatError
from switchboard.client.push import PushClient, PushError, PushRegistration
from switchboard.client.realtime import (
    Event,
    Ready,
    RealtimeClient,
    RealtimeClosed,
    RequestError,
    Resync,
    realtime_url,
)

__all__ = [
    "ChatClient",
    "ChatError",
    "Event",
    "PushClient",
    "PushError",
    "PushRegistration",
    "Ready",
    "RealtimeClient",
    "RealtimeClosed",
    "RequestError",
    "Resync",
    "realtime_url",
]
