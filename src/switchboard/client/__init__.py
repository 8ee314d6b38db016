"""The Python client SDK: realtime events and the chat calls bots and tests need."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from switchboard.client.calling import CallParticipant, DataMessage, ReceiveStats
    from switchboard.client.calling_media import AudioStats

# The call participant needs aiortc (the `calling` extra): imported on first use.
_CALLING = {
    "CallParticipant": "switchboard.client.calling",
    "DataMessage": "switchboard.client.calling",
    "ReceiveStats": "switchboard.client.calling",
    "AudioStats": "switchboard.client.calling_media",
}

__all__ = [
    "AudioStats",
    "CallParticipant",
    "ChatClient",
    "ChatError",
    "DataMessage",
    "Event",
    "PushClient",
    "PushError",
    "PushRegistration",
    "Ready",
    "RealtimeClient",
    "RealtimeClosed",
    "ReceiveStats",
    "RequestError",
    "Resync",
    "realtime_url",
]


def __getattr__(name: str) -> Any:
    """Import the calling classes only when asked for."""
    module = _CALLING.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
