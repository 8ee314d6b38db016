"""The gateway's route: the WebSocket at /switchboard/v1/realtime on both ports."""

from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from switchboard.realtime.frames import PATH
from switchboard.realtime.session import Connection
from switchboard.services import Services

log = logging.getLogger(__name__)

router = APIRouter()


class AsgiTransport:
    """A `Transport` over Starlette's WebSocket, errors translated once here."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def send(self, text: str) -> None:
        """Send a text frame; ConnectionError once the peer has gone."""
        try:
            await self._ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise ConnectionError("the realtime peer has gone") from exc

    async def receive(self) -> str | None:
        """The next text frame; binary frames are refused; None at disconnect."""
        try:
            message = await self._ws.receive()
        except (RuntimeError, OSError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            # A binary frame is not part of the protocol; an empty object says so.
            return "[]"
        return str(text)

    async def close(self, code: int, reason: str) -> None:
        """Close unless the socket is already gone."""
        if self._ws.application_state is WebSocketState.DISCONNECTED:
            return
        try:
            await self._ws.close(code, reason)
        except (RuntimeError, OSError) as exc:
            raise ConnectionError("the realtime peer has gone") from exc


@router.websocket(PATH)
async def realtime(websocket: WebSocket) -> None:
    """One client's realtime connection; the protocol is in docs/realtime.md."""
    svc: Services = websocket.app.state.services
    await websocket.accept()
    client = websocket.client
    peer = f"{client.host}:{client.port}" if client is not None else "-"
    connection = Connection(AsgiTransport(websocket), svc.realtime, peer)
    await connection.run()
