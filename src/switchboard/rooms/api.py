"""Rooms routes, as ACS serves them (WIRE.md §2.4), HMAC-signed."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Coroutine
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from switchboard.auth.http import require_hmac, services
from switchboard.core.errors import AcsError, bad_request
from switchboard.core.http import check_api_version, next_link, read_json
from switchboard.rooms.service import Repeatability, RoomsService
from switchboard.rooms.wire import (
    body_hash,
    body_object,
    check_room_id,
    error_code_header,
    participant_changes,
    participant_json,
    room_fields,
    room_json,
)

API_VERSIONS = frozenset(
    {
        "2022-02-01",
        "2023-03-31-preview",
        "2023-06-14",
        "2023-10-31-preview",
        "2024-04-15",
        "2025-03-13",
    }
)
"""The versions azure-communication-rooms 1.x sends; all behave the same here."""

TOKEN_PARAM = "continuationToken"
"""The query parameter of a `nextLink` that says where the next page starts."""


class _RoomsRoute(APIRoute):
    """A route whose errors carry `x-ms-error-code`, as the Rooms swagger says."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_error_code(request: Request) -> Response:
            try:
                return await handler(request)
            except AcsError as error:
                error_code_header(error)
                raise

        return with_error_code


router = APIRouter(
    tags=["rooms"], dependencies=[Depends(require_hmac)], route_class=_RoomsRoute
)


_SDK_ENUM_PREFIX = "ApiVersion.V"


def _version(request: Request) -> str:
    # azure-communication-rooms 1.2.0 on Python 3.11+ puts str() of its
    # ApiVersion enum, `ApiVersion.V2025_03_13`, in the api-version of every
    # nextLink request; read that as the version it names.
    raw = request.query_params.get("api-version", "")
    if raw.startswith(_SDK_ENUM_PREFIX):
        named = raw.removeprefix(_SDK_ENUM_PREFIX).replace("_", "-")
        if named in API_VERSIONS:
            return named
    return check_api_version(request, API_VERSIONS)


Version = Annotated[str, Depends(_version)]


def _rooms(request: Request) -> RoomsService:
    found: RoomsService = services(request).rooms
    return found


def _page_size(request: Request, rooms: RoomsService) -> int:
    cap = rooms.settings.max_page_size
    raw = request.query_params.get("maxPageSize")
    if raw is None:
        return cap
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(
            "maxPageSize must be a positive integer", target="maxPageSize"
        )
    return min(int(raw), cap)


def _token(kind: str, key: str | int) -> str:
    raw = json.dumps([kind, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(request: Request, kind: str, key_type: type) -> Any:
    token = request.query_params.get(TOKEN_PARAM)
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        parsed = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        parsed = None
    if (
        not isinstance(parsed, list)
        or len(parsed) != 2
        or parsed[0] != kind
        or not isinstance(parsed[1], key_type)
    ):
        raise bad_request(
            f"the {TOKEN_PARAM} is not valid for this list", target=TOKEN_PARAM
        )
    return parsed[1]


def _repeatability(request: Request, data: dict[str, Any]) -> Repeatability | None:
    """The create's repeatability headers (OASIS Repeatable Requests 1.0 §2)."""
    request_id = request.headers.get("repeatability-request-id")
    first_sent = request.headers.get("repeatability-first-sent")
    if request_id is None:
        return None
    if not request_id or len(request_id) > 128:
        raise bad_request(
            "Repeatability-Request-ID must be 1 to 128 characters",
            target="Repeatability-Request-ID",
        )
    if first_sent is None:
        raise bad_request(
            "Repeatability-First-Sent must be given with Repeatability-Request-ID",
            target="Repeatability-First-Sent",
        )
    try:
        parsedate_to_datetime(first_sent)
    except (TypeError, ValueError):
        raise bad_request(
            "Repeatability-First-Sent is not an IMF-fixdate (RFC 7231 §7.1.1.1)",
            target="Repeatability-First-Sent",
        ) from None
    return Repeatability(request_id, body_hash(data))


@router.post("/rooms", status_code=201)
async def create_room(request: Request, _: Version) -> JSONResponse:
    """Create a room, or answer again for a repeated request."""
    data = body_object(await read_json(request))
    fields = room_fields(data)
    participants = {
        raw: role for raw, role in participant_changes(data).items() if role is not None
    }
    repeat = _repeatability(request, data)
    created = await _rooms(request).create(
        fields.valid_from,
        fields.valid_until,
        bool(fields.pstn_dial_out_enabled),
        participants,
        repeat,
    )
    headers = {"Location": created.room.id}
    if repeat is not None:
        headers["Repeatability-Result"] = "accepted"
    return JSONResponse(room_json(created.room), status_code=201, headers=headers)


@router.get("/rooms")
async def list_rooms(request: Request, _: Version) -> JSONResponse:
    """The resource's rooms, newest first, paged."""
    rooms = _rooms(request)
    size = _page_size(request, rooms)
    page = await rooms.list_rooms(_cursor(request, "r", int), size)
    body: dict[str, Any] = {"value": [room_json(room) for room in page.rooms]}
    if page.next_before is not None:
        body["nextLink"] = next_link(
            request, **{TOKEN_PARAM: _token("r", page.next_before)}
        )
    return JSONResponse(body)


@router.get("/rooms/{room_id}")
async def get_room(request: Request, room_id: str, _: Version) -> JSONResponse:
    """One room."""
    room = await _rooms(request).get(check_room_id(room_id))
    return JSONResponse(room_json(room))


@router.patch("/rooms/{room_id}")
async def update_room(request: Request, room_id: str, _: Version) -> JSONResponse:
    """Change a room's window or PSTN flag; null or absent fields stay as they are."""
    room_id = check_room_id(room_id)
    fields = room_fields(body_object(await read_json(request)))
    room = await _rooms(request).update(
        room_id, fields.valid_from, fields.valid_until, fields.pstn_dial_out_enabled
    )
    return JSONResponse(room_json(room))


@router.delete("/rooms/{room_id}", status_code=204)
async def delete_room(request: Request, room_id: str, _: Version) -> Response:
    """Delete a room; deleting one that is already gone also answers 204."""
    await _rooms(request).delete(check_room_id(room_id))
    return Response(status_code=204)


@router.get("/rooms/{room_id}/participants")
async def list_participants(request: Request, room_id: str, _: Version) -> JSONResponse:
    """A room's participants, paged."""
    room_id = check_room_id(room_id)
    rooms = _rooms(request)
    size = _page_size(request, rooms)
    page = await rooms.list_participants(room_id, _cursor(request, "p", str), size)
    body: dict[str, Any] = {
        "value": [participant_json(raw, role) for raw, role in page.participants]
    }
    if page.next_after is not None:
        body["nextLink"] = next_link(
            request, **{TOKEN_PARAM: _token("p", page.next_after)}
        )
    return JSONResponse(body)


@router.patch("/rooms/{room_id}/participants")
async def update_participants(
    request: Request, room_id: str, _: Version
) -> JSONResponse:
    """Add, re-role or (with null) remove participants: a JSON merge patch."""
    room_id = check_room_id(room_id)
    changes = participant_changes(body_object(await read_json(request)))
    await _rooms(request).update_participants(room_id, changes)
    return JSONResponse({})
