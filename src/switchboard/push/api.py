"""Push registration routes: Switchboard's own API, in the ACS conventions.

A user access token (any chat or voip scope) as a Bearer token, `api-version`
required, errors in the ACS error body, lists as `{value}`. docs/push.md
describes each route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr

from switchboard.auth.http import services, user_principal
from switchboard.auth.scopes import CHAT_SCOPES, VOIP_SCOPES
from switchboard.chat.wire import parse_time
from switchboard.core.clock import iso8601
from switchboard.core.http import check_api_version, parse_body
from switchboard.push.records import Platform, Registration
from switchboard.push.service import Device, PushService

API_VERSIONS = frozenset({"2026-12-01"})
"""The push API's versions."""

PUSH_SCOPES = CHAT_SCOPES | VOIP_SCOPES
"""Any token that can chat or call may register devices for its user."""

BASE = "/switchboard/v1/push"

router = APIRouter(tags=["push"])


class Keys(BaseModel):
    """A Web Push subscription's keys, as `PushSubscription.toJSON()` gives them."""

    model_config = ConfigDict(extra="ignore")

    p256dh: StrictStr
    auth: StrictStr


class Subscription(BaseModel):
    """A Web Push subscription, as `PushSubscription.toJSON()` gives it."""

    model_config = ConfigDict(extra="ignore")

    endpoint: StrictStr
    keys: Keys


class RegistrationBody(BaseModel):
    """`POST /switchboard/v1/push/registrations`."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    appId: StrictStr
    deviceToken: StrictStr | None = None
    subscription: Subscription | None = None
    expiresOn: StrictStr | None = None


class RefreshBody(BaseModel):
    """`PATCH /switchboard/v1/push/registrations/{id}`: every field optional."""

    model_config = ConfigDict(extra="forbid")

    deviceToken: StrictStr | None = None
    subscription: Subscription | None = None
    expiresOn: StrictStr | None = None


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


Version = Annotated[None, Depends(_version)]


def _push(request: Request) -> PushService:
    found: PushService = services(request).push
    return found


async def _user(request: Request) -> str:
    principal = await user_principal(request, PUSH_SCOPES)
    return principal.user.raw


def registration_json(registration: Registration) -> dict[str, Any]:
    """A registration as the API shows it; a Web Push auth secret is never shown."""
    body: dict[str, Any] = {
        "id": registration.id,
        "platform": registration.platform.value,
        "appId": registration.app_id,
        "createdOn": iso8601(registration.created_at),
        "updatedOn": iso8601(registration.updated_at),
        "expiresOn": iso8601(registration.expires_at),
    }
    if registration.platform is Platform.WEBPUSH:
        body["subscription"] = {
            "endpoint": registration.token,
            "keys": {"p256dh": registration.p256dh},
        }
    else:
        body["deviceToken"] = registration.token
    return body


def _expiry(value: str | None) -> float | None:
    return None if value is None else parse_time(value, "expiresOn")


def _subscription(body: RegistrationBody | RefreshBody) -> dict[str, Any] | None:
    return None if body.subscription is None else body.subscription.model_dump()


@router.post(f"{BASE}/registrations")
async def register(request: Request, _: Version) -> JSONResponse:
    """Register a device of the token's user, or refresh its registration."""
    user = await _user(request)
    body = await parse_body(request, RegistrationBody)
    push = _push(request)
    expires_at = _expiry(body.expiresOn)
    device = await push.validate_device(
        body.platform, body.deviceToken, _subscription(body)
    )
    registration, created = await push.register(
        user, body.platform, body.appId, device, expires_at
    )
    return JSONResponse(
        registration_json(registration),
        status_code=201 if created else 200,
        headers={"Location": f"{BASE}/registrations/{registration.id}"},
    )


@router.get(f"{BASE}/registrations")
async def list_registrations(request: Request, _: Version) -> JSONResponse:
    """The token's user's registrations."""
    user = await _user(request)
    found = await _push(request).registrations(user)
    return JSONResponse({"value": [registration_json(r) for r in found]})


@router.get(f"{BASE}/registrations/{{registration_id}}")
async def get_registration(
    request: Request, registration_id: str, _: Version
) -> JSONResponse:
    """One of the user's registrations."""
    user = await _user(request)
    found = await _push(request).get(user, registration_id)
    return JSONResponse(registration_json(found))


@router.patch(f"{BASE}/registrations/{{registration_id}}")
async def refresh_registration(
    request: Request, registration_id: str, _: Version
) -> JSONResponse:
    """Extend a registration, and replace its device token when one is given."""
    user = await _user(request)
    body = await parse_body(request, RefreshBody)
    push = _push(request)
    current = await push.get(user, registration_id)
    device: Device | None = None
    if body.deviceToken is not None or body.subscription is not None:
        device = await push.validate_device(
            current.platform, body.deviceToken, _subscription(body)
        )
    updated = await push.refresh(user, registration_id, device, _expiry(body.expiresOn))
    return JSONResponse(registration_json(updated))


@router.delete(f"{BASE}/registrations/{{registration_id}}")
async def remove_registration(
    request: Request, registration_id: str, _: Version
) -> Response:
    """Remove one of the user's registrations."""
    user = await _user(request)
    await _push(request).remove(user, registration_id)
    return Response(status_code=204)


@router.get(f"{BASE}/webpush/vapidPublicKey")
async def vapid_public_key(request: Request, _: Version) -> JSONResponse:
    """The applicationServerKey browsers subscribe with; public, no token needed."""
    return JSONResponse({"publicKey": _push(request).vapid.public_key})
