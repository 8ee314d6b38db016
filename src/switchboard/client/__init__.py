"""The Python client SDK: realtime events and the chat calls bots and tests need."""

from switchboard.client.chat import ChatClient, ChatError
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
    "Ready",
    "RealtimeClient",
    "RealtimeClosed",
    "RequestError",
    "Resync",
    "realtime_url",
]
