"""Relay configuration routes: the ACS one (WIRE.md §2.5) and the user-token one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from switchboard.auth.http import require_hmac, services, user_principal
from switchboard.auth.scopes import VOIP_SCOPES
from switchboard.core.clock import iso8601
from switchboard.core.errors import ErrorCode, bad_request
from switchboard.core.http import check_api_version, parse_body
from switchboard.core.ids import parse_user_id
from switchboard.traversal.service import (
    MAX_TTL_S,
    RelayConfiguration,
    RelayService,
    RouteType,
)

API_VERSIONS = frozenset(
    {"2021-06-21-preview", "2021-10-08-preview", "2022-03-01-preview"}
)
"""The api-versions the networktraversal SDKs have sent; all behave the same here."""

router = APIRouter(tags=["network traversal"], dependencies=[Depends(require_hmac)])


class RelayRequest(BaseModel):
    """`POST /networkTraversal/:issueRelayConfiguration`, every field optional."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr | None = None
    routeType: RouteType | None = None
    ttl: StrictInt | None = Field(None, ge=0, le=MAX_TTL_S)


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


Version = Annotated[None, Depends(_version)]


def _relay(request: Request) -> RelayService:
    relay: RelayService = services(request).traversal
    return relay


def _configuration_json(configuration: RelayConfiguration) -> dict[str, Any]:
    return {
        "expiresOn": iso8601(configuration.expires_at),
        "iceServers": [
            {
                "urls": list(server.urls),
                "username": server.username,
                "credential": server.credential,
                "routeType": server.route_type.value,
            }
            for server in configuration.ice_servers
        ],
    }


@router.post("/networkTraversal/:issueRelayConfiguration")
async def issue_relay_configuration(request: Request, _: Version) -> JSONResponse:
    """STUN/TURN URLs and credentials, for an identity of this resource or nobody."""
    body = await parse_body(request, RelayRequest)
    relay = _relay(request)
    user = None
    if body.id is not None:
        user = parse_user_id(body.id)
        if user is None:
            raise bad_request(
                f"{body.id!r} is not a communication user id "
                "(expected 8:acs:<resource id>_<uuid>)",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="id",
            )
        await relay.check_user(user)
    route = body.routeType or RouteType.ANY
    return JSONResponse(_configuration_json(relay.issue(user, route, body.ttl)))


user_router = APIRouter(tags=["network traversal"])
"""Switchboard's own route: relay credentials for holders of a calling token."""


@user_router.get("/switchboard/v1/relay")
async def user_relay_configuration(request: Request) -> JSONResponse:
    """The same configuration for the token's user, so browsers need no access key."""
    principal = await user_principal(request, VOIP_SCOPES)
    route, ttl = _query(request)
    configuration = _relay(request).issue(principal.user, route, ttl)
    return JSONResponse(_configuration_json(configuration))


def _query(request: Request) -> tuple[RouteType, int | None]:
    params = request.query_params
    route_text = params.get("routeType", RouteType.ANY.value)
    try:
        route = RouteType(route_text)
    except ValueError:
        raise bad_request(
            f"routeType must be 'any' or 'nearest', not {route_text!r}",
            target="routeType",
        ) from None
    ttl_text = params.get("ttl")
    if ttl_text is None:
        return route, None
    if not ttl_text.isascii() or not ttl_text.isdigit() or int(ttl_text) > MAX_TTL_S:
        raise bad_request(
            f"ttl must be a whole number of seconds from 0 to {MAX_TTL_S}, "
            f"not {ttl_text!r}",
            target="ttl",
        )
    return route, int(ttl_text)
