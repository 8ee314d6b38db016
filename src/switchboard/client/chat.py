"""The chat REST calls a bot or a test needs, over the ACS wire (WIRE.md §2.2).

A Bearer user token over HTTPS, api-version 2024-03-07, as the official SDKs send.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from switchboard.client.http import UserClient, error_body

API_VERSION = "2024-03-07"


class ChatError(Exception):
    """A chat call answered with an ACS error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _thread(thread_id: str) -> str:
    return "/chat/threads/" + quote(thread_id, safe="")


def user_identifier(raw_id: str) -> dict[str, Any]:
    """A CommunicationIdentifierModel for an ACS user's raw id."""
    return {"rawId": raw_id, "communicationUser": {"id": raw_id}}


class ChatClient(UserClient):
    """One user's chat calls."""

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        query = {**(params or {}), "api-version": API_VERSION}
        answer = await self._http.request(
            method, path, json=body, params=query, headers=headers
        )
        if answer.status_code >= 400:
            error = error_body(answer)
            raise ChatError(
                answer.status_code,
                str(error.get("code", "")),
                str(error.get("message", answer.text)),
            )
        if not answer.content:
            return None
        return answer.json()

    async def create_thread(
        self, topic: str, participants: list[str], *, request_id: str | None = None
    ) -> str:
        """A new thread with the caller and `participants` (raw ids); its id."""
        body = {
            "topic": topic,
            "participants": [
                {"communicationIdentifier": user_identifier(p)} for p in participants
            ],
        }
        headers = {"repeatability-request-id": request_id} if request_id else None
        answer = await self._call("POST", "/chat/threads", body, headers=headers)
        return str(answer["chatThread"]["id"])

    async def add_participants(self, thread_id: str, participants: list[str]) -> None:
        """Add users (raw ids) to a thread."""
        body = {
            "participants": [
                {"communicationIdentifier": user_identifier(p)} for p in participants
            ]
        }
        await self._call("POST", _thread(thread_id) + "/participants/:add", body)

    async def send_message(
        self,
        thread_id: str,
        content: str,
        *,
        type: str = "text",
        sender_display_name: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Send a message; its id."""
        body: dict[str, Any] = {"content": content, "type": type}
        if sender_display_name is not None:
            body["senderDisplayName"] = sender_display_name
        if metadata is not None:
            body["metadata"] = metadata
        answer = await self._call("POST", _thread(thread_id) + "/messages", body)
        return str(answer["id"])

    async def list_messages(
        self,
        thread_id: str,
        *,
        max_page_size: int | None = None,
        start_time: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every message of the thread, newest first, following `nextLink`."""
        params: dict[str, Any] = {}
        if max_page_size is not None:
            params["maxPageSize"] = max_page_size
        if start_time is not None:
            params["startTime"] = start_time
        page = await self._call("GET", _thread(thread_id) + "/messages", None, params)
        messages: list[dict[str, Any]] = list(page["value"])
        while page.get("nextLink"):
            url = httpx.URL(page["nextLink"])
            next_params = {k: v for k, v in url.params.items() if k != "api-version"}
            page = await self._call("GET", url.path, None, next_params)
            messages.extend(page["value"])
        return messages

    async def send_typing(
        self, thread_id: str, sender_display_name: str | None = None
    ) -> None:
        """Tell the thread the caller is typing."""
        body = (
            {}
            if sender_display_name is None
            else {"senderDisplayName": sender_display_name}
        )
        await self._call("POST", _thread(thread_id) + "/typing", body)

    async def send_read_receipt(self, thread_id: str, message_id: str) -> None:
        """Mark a message read."""
        body = {"chatMessageId": message_id}
        await self._call("POST", _thread(thread_id) + "/readReceipts", body)
