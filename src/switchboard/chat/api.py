"""Chat routes, as ACS serves them (WIRE.md §2.2, api-version 2024-03-07).

The caller is the user in the Bearer token; every route checks it with the
chat scopes before the service checks membership, scope details and limits.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from switchboard.auth.http import services, user_principal
from switchboard.auth.scopes import CHAT_SCOPES
from switchboard.auth.tokens import Principal
from switchboard.chat import wire
from switchboard.chat.paging import TOKEN_PARAM, Page
from switchboard.chat.service import ChatService
from switchboard.core.errors import ErrorCode, bad_request
from switchboard.core.http import check_api_version, read_json

API_VERSIONS = frozenset(
    {
        "2021-03-07",
        "2021-09-07",
        "2023-11-07",
        "2024-03-07",
        "2024-03-15-preview",
        "2025-03-15",
    }
)
"""The chat api-versions the official SDKs have shipped since the first stable one.

They share one wire shape for everything Switchboard serves; the fields the
newer ones add (thread metadata, retention policies) are refused when used.
"""

router = APIRouter(tags=["chat"])


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


async def _caller(request: Request) -> Principal:
    return await user_principal(request, CHAT_SCOPES)


Version = Annotated[None, Depends(_version)]
Caller = Annotated[Principal, Depends(_caller)]


def _chat(request: Request) -> ChatService:
    chat: ChatService = services(request).chat
    return chat


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request(
            "the request body must be a JSON object",
            code=ErrorCode.INVALID_REQUEST_BODY,
        )
    return body


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(
            f"{name} must be a string", code=ErrorCode.INVALID_REQUEST_BODY, target=name
        )
    return value


def _refuse_newer_fields(body: dict[str, Any]) -> None:
    # api-version 2025-03-15 added thread metadata and retention policies;
    # Switchboard has neither yet, so a request that uses them is refused.
    policy = body.get("retentionPolicy")
    keeps_forever = isinstance(policy, dict) and policy.get("kind") == "none"
    if body.get("metadata") or (policy and not keeps_forever):
        raise bad_request(
            "thread metadata and retention policies are not supported",
            code=ErrorCode.NOT_SUPPORTED,
        )


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} must be an integer", target=name) from None


def _time_param(request: Request, name: str) -> float | None:
    value = request.query_params.get(name)
    return None if value is None else wire.parse_time(value, name)


def _token(request: Request) -> str | None:
    return request.query_params.get(TOKEN_PARAM)


def _page_json(request: Request, page: Page[Any], render: Any) -> JSONResponse:
    body: dict[str, Any] = {"value": [render(item) for item in page.items]}
    if page.next is not None:
        # The same request on the same host, continued; `skip` served its turn.
        params = [
            (key, value)
            for key, value in request.query_params.multi_items()
            if key not in (TOKEN_PARAM, "skip")
        ]
        params.append((TOKEN_PARAM, page.next.token()))
        # The path as the client sent it, still percent-encoded.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        origin = f"{request.url.scheme}://{request.url.netloc}"
        body["nextLink"] = f"{origin}{raw_path.decode('latin-1')}?{urlencode(params)}"
    return JSONResponse(body)


def _location(request: Request, *parts: str) -> str:
    path = "/".join(quote(part, safe="") for part in parts)
    return str(request.url.replace(path=f"/chat/threads/{path}", query=""))


# Threads


@router.post("/chat/threads", status_code=201)
async def create_thread(request: Request, _: Version, caller: Caller) -> JSONResponse:
    """Create a thread with the caller and the named participants."""
    body = await _object(request)
    _refuse_newer_fields(body)
    named = wire.parse_participants(body.get("participants"), "participants")
    request_id = request.headers.get("repeatability-request-id")
    created = await _chat(request).create_thread(
        caller, body.get("topic"), named, request_id
    )

    result: dict[str, Any] = {"chatThread": wire.thread_json(created.thread)}
    if created.rejected:
        result["invalidParticipants"] = [
            wire.rejected_json(r) for r in created.rejected
        ]
    headers = {"Location": _location(request, created.thread.id)}
    return JSONResponse(result, status_code=201, headers=headers)


@router.get("/chat/threads")
async def list_threads(request: Request, _: Version, caller: Caller) -> JSONResponse:
    """The caller's threads."""
    page = await _chat(request).list_threads(
        caller,
        _time_param(request, "startTime"),
        _token(request),
        _int_param(request, "maxPageSize"),
    )
    return _page_json(request, page, wire.thread_item_json)


@router.get("/chat/threads/{thread_id}")
async def get_thread(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """A thread's properties."""
    thread = await _chat(request).get_thread(caller, thread_id)
    return JSONResponse(wire.thread_json(thread))


@router.patch("/chat/threads/{thread_id}", status_code=204)
async def update_thread(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> Response:
    """Change a thread's topic."""
    body = await _object(request)
    _refuse_newer_fields(body)
    await _chat(request).update_topic(caller, thread_id, _string(body, "topic"))
    return Response(status_code=204)


@router.delete("/chat/threads/{thread_id}", status_code=204)
async def delete_thread(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> Response:
    """Delete a thread."""
    await _chat(request).delete_thread(caller, thread_id)
    return Response(status_code=204)


# Messages


@router.post("/chat/threads/{thread_id}/messages", status_code=201)
async def send_message(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """Send a text or HTML message."""
    body = await _object(request)
    message = await _chat(request).send_message(
        caller,
        thread_id,
        body.get("content"),
        _string(body, "type"),
        _string(body, "senderDisplayName"),
        body.get("metadata"),
    )
    location = _location(request, thread_id, "messages", str(message.id))
    return JSONResponse(
        {"id": str(message.id)}, status_code=201, headers={"Location": location}
    )


@router.get("/chat/threads/{thread_id}/messages")
async def list_messages(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """Messages, newest first."""
    page = await _chat(request).list_messages(
        caller,
        thread_id,
        _time_param(request, "startTime"),
        _token(request),
        _int_param(request, "maxPageSize"),
    )
    return _page_json(request, page, wire.message_json)


@router.get("/chat/threads/{thread_id}/messages/{message_id}")
async def get_message(
    request: Request, thread_id: str, message_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """One message."""
    message = await _chat(request).get_message(caller, thread_id, message_id)
    return JSONResponse(wire.message_json(message))


@router.patch("/chat/threads/{thread_id}/messages/{message_id}", status_code=204)
async def edit_message(
    request: Request, thread_id: str, message_id: str, _: Version, caller: Caller
) -> Response:
    """Edit a message's content or metadata."""
    body = await _object(request)
    await _chat(request).edit_message(
        caller, thread_id, message_id, body.get("content"), body.get("metadata")
    )
    return Response(status_code=204)


@router.delete("/chat/threads/{thread_id}/messages/{message_id}", status_code=204)
async def delete_message(
    request: Request, thread_id: str, message_id: str, _: Version, caller: Caller
) -> Response:
    """Delete a message, leaving a tombstone."""
    await _chat(request).delete_message(caller, thread_id, message_id)
    return Response(status_code=204)


# Participants


@router.get("/chat/threads/{thread_id}/participants")
async def list_participants(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """The thread's participants."""
    page = await _chat(request).list_participants(
        caller,
        thread_id,
        _int_param(request, "skip"),
        _token(request),
        _int_param(request, "maxPageSize"),
    )
    return _page_json(request, page, wire.participant_json)


@router.post("/chat/threads/{thread_id}/participants/:add", status_code=201)
async def add_participants(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """Add participants; those who cannot join are listed by raw id."""
    body = await _object(request)
    if "participants" not in body:
        raise bad_request(
            "participants is required",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="participants",
        )
    named = wire.parse_participants(body["participants"], "participants")
    rejected = await _chat(request).add_participants(caller, thread_id, named)
    result: dict[str, Any] = {}
    if rejected:
        result["invalidParticipants"] = [wire.rejected_json(r) for r in rejected]
    return JSONResponse(result, status_code=201)


@router.post("/chat/threads/{thread_id}/participants/:remove", status_code=204)
async def remove_participant(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> Response:
    """Remove one participant; the body is the participant's identifier."""
    raw_id = wire.parse_identifier(await read_json(request), "body")
    await _chat(request).remove_participant(caller, thread_id, raw_id)
    return Response(status_code=204)


# Typing and read receipts


@router.post("/chat/threads/{thread_id}/typing")
async def send_typing(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> Response:
    """Tell the others the caller is typing."""
    body = await _object(request)
    name = _string(body, "senderDisplayName")
    await _chat(request).send_typing(caller, thread_id, name)
    return Response(status_code=200)


@router.post("/chat/threads/{thread_id}/readReceipts")
async def send_read_receipt(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> Response:
    """Say the caller read a message."""
    body = await _object(request)
    message_id = body.get("chatMessageId")
    if not isinstance(message_id, str) or not message_id:
        raise bad_request(
            "chatMessageId must be a non-empty string",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="chatMessageId",
        )
    await _chat(request).send_read_receipt(caller, thread_id, message_id)
    return Response(status_code=200)


@router.get("/chat/threads/{thread_id}/readReceipts")
async def list_read_receipts(
    request: Request, thread_id: str, _: Version, caller: Caller
) -> JSONResponse:
    """The participants' newest read receipts."""
    page = await _chat(request).list_read_receipts(
        caller,
        thread_id,
        _int_param(request, "skip"),
        _token(request),
        _int_param(request, "maxPageSize"),
    )
    return _page_json(request, page, wire.receipt_json)
