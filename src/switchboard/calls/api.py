"""The call history routes: a user's calls, newest first, and one call."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from switchboard.auth.http import services, user_principal
from switchboard.auth.scopes import VOIP_SCOPES
from switchboard.calls.service import CallService
from switchboard.core.errors import bad_request
from switchboard.core.http import check_api_version, next_link

API_VERSIONS = frozenset({"2026-12-01"})
"""The api-versions of Switchboard's own routes."""

MAX_PAGE = 100
"""The most calls one page holds."""

router = APIRouter(tags=["calls"])


def _calls(request: Request) -> CallService:
    calls: CallService = services(request).calls
    return calls


def _token(created_at: float, call_id: str) -> str:
    raw = json.dumps([created_at, call_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str | None) -> tuple[float, str] | None:
    if token is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeError, binascii.Error):
        raw = None
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not isinstance(raw[0], int | float)
        or not isinstance(raw[1], str)
    ):
        raise bad_request(
            "the continuationToken is not valid for this list",
            target="continuationToken",
        )
    return float(raw[0]), raw[1]


def _page_size(request: Request) -> int:
    raw = request.query_params.get("maxPageSize", str(MAX_PAGE))
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise bad_request(
            "maxPageSize must be a positive integer", target="maxPageSize"
        )
    return min(int(raw), MAX_PAGE)


@router.get("/switchboard/v1/calls")
async def list_calls(request: Request) -> JSONResponse:
    """The token's user's calls, newest first, paged with `nextLink`."""
    check_api_version(request, API_VERSIONS)
    principal = await user_principal(request, VOIP_SCOPES)
    size = _page_size(request)
    after = _after(request.query_params.get("continuationToken"))
    found = await _calls(request).history(principal.user.raw, size + 1, after)
    body: dict[str, Any] = {"value": [item for _, item in found[:size]]}
    if len(found) > size:
        last, _ = found[size - 1]
        body["nextLink"] = next_link(
            request, continuationToken=_token(last.created_at, last.id)
        )
    return JSONResponse(body)


@router.get("/switchboard/v1/calls/{call_id}")
async def get_call(request: Request, call_id: str) -> JSONResponse:
    """One call the token's user took part in."""
    check_api_version(request, API_VERSIONS)
    principal = await user_principal(request, VOIP_SCOPES)
    return JSONResponse(await _calls(request).get(principal.user.raw, call_id))
