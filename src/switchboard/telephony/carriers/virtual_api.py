"""The virtual phone page at /virtual-phone and its API under /virtual-phone/api.

A development tool, on by default. The page is served to loopback clients only;
the API answers loopback clients and, from elsewhere, requests signed with an
access key. `telephony.virtual_phone_access = "anyone"` opens both to everyone
and `telephony.virtual_carrier = false` turns the network off (404 here).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr

from switchboard.auth.http import require_hmac, services
from switchboard.core.clock import iso8601
from switchboard.core.errors import bad_request, forbidden, not_found
from switchboard.core.http import parse_body
from switchboard.realtime.web import web_root
from switchboard.telephony.carriers.base import NumberBlock
from switchboard.telephony.carriers.virtual import HandsetError, VirtualCarrier
from switchboard.telephony.carriers.virtual_store import Handset, HandsetMessage

MAX_HANDSETS = 100
"""Handsets one conversations answer lists, the most recently active first."""

MAX_MESSAGES = 100
"""Messages per handset one answer holds, the newest."""

MAX_WAIT_S = 30.0
"""Longest a conversations request waits for a change."""

_ASSETS = {
    "main.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _carrier(request: Request) -> VirtualCarrier:
    carrier = services(request).carriers.virtual
    if carrier is None:
        raise not_found("the virtual phone network is off on this node")
    return carrier


def _from_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _open(request: Request) -> bool:
    access = services(request).settings.telephony.virtual_phone_access
    return access == "anyone" or _from_loopback(request)


async def page_access(request: Request) -> VirtualCarrier:
    """The virtual network, for a client allowed to see the page."""
    carrier = _carrier(request)
    if not _open(request):
        raise forbidden(
            "the virtual phone page is served to loopback clients only; set "
            "telephony.virtual_phone_access to anyone to open it"
        )
    return carrier


async def api_access(request: Request) -> VirtualCarrier:
    """The virtual network, for a loopback client or a signed request."""
    carrier = _carrier(request)
    if not _open(request):
        await require_hmac(request)
    return carrier


Page = Annotated[VirtualCarrier, Depends(page_access)]
Api = Annotated[VirtualCarrier, Depends(api_access)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewHandset(_Body):
    """`POST /virtual-phone/api/handsets`."""

    number: StrictStr


class NewText(_Body):
    """`POST /virtual-phone/api/handsets/{number}/messages`."""

    to: StrictStr
    text: StrictStr


def _block_json(block: NumberBlock) -> dict[str, Any]:
    return {
        "countryCode": block.country,
        "numberType": block.number_type.value,
        "first": block.first,
        "count": block.count,
        "areaCode": block.area_code,
        "locality": block.locality,
        "sms": block.sms,
        "calling": block.calling,
        "monthlyCost": block.monthly_cost,
        "currency": block.currency,
    }


def _handset_json(handset: Handset) -> dict[str, Any]:
    return {
        "number": handset.number,
        "createdAt": iso8601(handset.created_at),
        "lastActivityAt": iso8601(handset.last_activity_at),
    }


def _message_json(message: HandsetMessage) -> dict[str, Any]:
    settled = message.settled_at
    return {
        "id": message.id,
        "handset": message.handset,
        "peer": message.peer,
        "direction": message.direction.value,
        "text": message.text,
        "status": message.status.value,
        "detail": "" if settled is None else message.detail,
        "deliveryReport": message.report_requested,
        "switchboardMessageId": message.switchboard_id or None,
        "createdAt": iso8601(message.created_at),
        "settledAt": None if settled is None else iso8601(settled),
    }


def _conversation_json(
    handset: Handset, messages: list[HandsetMessage]
) -> dict[str, Any]:
    return {**_handset_json(handset), "messages": [_message_json(m) for m in messages]}


# The page


def _web_file(name: str) -> Path:
    root = web_root()
    path = None if root is None else root / "virtual-phone" / name
    if path is None or not path.is_file():
        raise not_found("the virtual phone page is not installed")
    return path


@router.get("/virtual-phone")
async def page(carrier: Page) -> FileResponse:
    """The page of virtual handsets."""
    return FileResponse(_web_file("index.html"), media_type="text/html; charset=utf-8")


@router.get("/virtual-phone/{asset}")
async def asset(asset: str, carrier: Page) -> FileResponse:
    """The page's script and style sheet."""
    if asset not in _ASSETS:
        raise not_found(f"no such file: /virtual-phone/{asset}")
    return FileResponse(_web_file(asset), media_type=_ASSETS[asset])


# The API


@router.get("/virtual-phone/api/numbers")
async def numbers(carrier: Api) -> dict[str, Any]:
    """The Switchboard number ranges of the virtual network."""
    return {"value": [_block_json(b) for b in carrier.number_blocks()]}


@router.get("/virtual-phone/api/handsets")
async def list_handsets(carrier: Api) -> dict[str, Any]:
    """Handsets, the most recently active first."""
    found = await carrier.handsets(MAX_HANDSETS, 0)
    return {"value": [_handset_json(handset) for handset, _ in found]}


@router.post("/virtual-phone/api/handsets")
async def add_handset(request: Request, carrier: Api) -> Response:
    """Put a handset on the network: 201 when new, 200 when it was there."""
    body = await parse_body(request, NewHandset)
    try:
        handset, created = await carrier.add_handset(body.number)
    except HandsetError as exc:
        raise bad_request(str(exc), target="number") from exc
    return JSONResponse(_handset_json(handset), status_code=201 if created else 200)


@router.get("/virtual-phone/api/handsets/{number}")
async def get_handset(number: str, carrier: Api) -> dict[str, Any]:
    """One handset with its conversation, oldest message first."""
    found = await carrier.conversation(number, MAX_MESSAGES)
    if found is None:
        raise not_found(f"there is no handset {number}", target="number")
    return _conversation_json(*found)


@router.post("/virtual-phone/api/handsets/{number}/messages")
async def send_text(number: str, request: Request, carrier: Api) -> Response:
    """Text a Switchboard number from a handset; 201 with the message as it ended."""
    body = await parse_body(request, NewText)
    try:
        message = await carrier.send_from_handset(number, body.to, body.text)
    except HandsetError as exc:
        raise bad_request(str(exc)) from exc
    return JSONResponse(_message_json(message), status_code=201)


@router.get("/virtual-phone/api/conversations")
async def conversations(
    carrier: Api,
    since: Annotated[str, Query()] = "",
    wait_s: Annotated[float, Query(alias="waitSeconds", ge=0, le=MAX_WAIT_S)] = 0.0,
) -> dict[str, Any]:
    """Every recent conversation; with `since`, once something changed after it."""
    if since:
        await carrier.wait_for_change(since, wait_s)
    # The mark is taken before reading, so a change during the read is not missed.
    mark = carrier.generation
    found = await carrier.handsets(MAX_HANDSETS, MAX_MESSAGES)
    return {
        "since": mark,
        "handsets": [_conversation_json(h, messages) for h, messages in found],
    }
