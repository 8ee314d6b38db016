"""The chat service: thread, participant and message operations in one object."""

from __future__ import annotations

from switchboard.chat.messages import MessageOps
from switchboard.chat.threads import ThreadOps


class ChatService(ThreadOps, MessageOps):
    """Everything the chat routes call; built once by the node."""
