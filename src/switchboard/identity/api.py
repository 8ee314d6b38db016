"""Identity routes, as ACS serves them (WIRE.md §2.1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from switchboard.auth.http import require_hmac, services, user_principal
from switchboard.auth.scopes import Scope, parse_scopes
from switchboard.auth.tokens import IssuedToken
from switchboard.core.clock import iso8601
from switchboard.core.errors import ErrorCode, bad_request
from switchboard.core.http import check_api_version, parse_body
from switchboard.core.ids import UserId, parse_user_id

API_VERSIONS = frozenset(
    {
        "2020-07-20-preview2",
        "2021-02-22-preview1",
        "2021-03-07",
        "2021-10-31-preview",
        "2021-11-01",
        "2022-06-01",
        "2022-10-01",
        "2023-08-01",
        "2023-10-01",
    }
)
"""The api-versions the identity SDKs have sent; all behave the same here."""

MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = 60, 1440, 1440

router = APIRouter(tags=["identity"], dependencies=[Depends(require_hmac)])


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateUserBody(_Body):
    """`POST /identities`."""

    createTokenWithScopes: list[StrictStr] | None = None
    expiresInMinutes: StrictInt | None = Field(None)


class IssueTokenBody(_Body):
    """`POST /identities/{id}/:issueAccessToken`."""

    scopes: list[StrictStr]
    expiresInMinutes: StrictInt | None = None


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


Version = Annotated[None, Depends(_version)]


def _scopes(values: list[str], field: str) -> tuple[Scope, ...]:
    try:
        return parse_scopes(values)
    except ValueError as exc:
        raise bad_request(
            f"{field}: {exc}", code=ErrorCode.INVALID_REQUEST_BODY, target=field
        ) from None


def _minutes(value: int | None) -> int:
    if value is None:
        return DEFAULT_MINUTES
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise bad_request(
            f"expiresInMinutes must be between {MIN_MINUTES} and {MAX_MINUTES}, "
            f"not {value}",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="expiresInMinutes",
        )
    return value


def _user(request: Request, raw: str) -> UserId:
    user = parse_user_id(raw)
    if user is None or user.resource_id != services(request).resource_id:
        raise bad_request(
            f"{raw!r} is not an identity of this resource "
            "(expected 8:acs:<resource id>_<uuid>)",
            target="id",
        )
    return user


def _token_json(token: IssuedToken) -> dict[str, Any]:
    return {"token": token.token, "expiresOn": iso8601(token.expires_at)}


@router.post("/identities", status_code=201)
async def create_user(request: Request, _: Version) -> JSONResponse:
    """Create a user, with a token when scopes are given."""
    body = await parse_body(request, CreateUserBody)
    identity = services(request).identity

    # Validate everything before anything is created.
    scopes = None
    if body.createTokenWithScopes is not None:
        scopes = _scopes(body.createTokenWithScopes, "createTokenWithScopes")
    elif body.expiresInMinutes is not None:
        raise bad_request(
            "expiresInMinutes needs createTokenWithScopes",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="expiresInMinutes",
        )
    minutes = _minutes(body.expiresInMinutes)

    user = await identity.create_user()
    result: dict[str, Any] = {"identity": {"id": user.raw}}
    if scopes is not None:
        token = await identity.issue_token(user, scopes, minutes)
        result["accessToken"] = _token_json(token)
    return JSONResponse(result, status_code=201)


@router.delete("/identities/{user_id}", status_code=204)
async def delete_user(request: Request, user_id: str, _: Version) -> Response:
    """Delete a user and invalidate its tokens."""
    await services(request).identity.delete_user(_user(request, user_id))
    return Response(status_code=204)


@router.post("/identities/{user_id}/:revokeAccessTokens", status_code=204)
async def revoke_tokens(request: Request, user_id: str, _: Version) -> Response:
    """Invalidate every token the user holds."""
    await services(request).identity.revoke_tokens(_user(request, user_id))
    return Response(status_code=204)


@router.post("/identities/{user_id}/:issueAccessToken")
async def issue_token(request: Request, user_id: str, _: Version) -> JSONResponse:
    """Issue a token for an existing user."""
    user = _user(request, user_id)
    body = await parse_body(request, IssueTokenBody)
    scopes = _scopes(body.scopes, "scopes")
    minutes = _minutes(body.expiresInMinutes)
    token = await services(request).identity.issue_token(user, scopes, minutes)
    return JSONResponse(_token_json(token))


@router.post("/teamsUser/:exchangeAccessToken")
async def exchange_teams_token(request: Request, _: Version) -> Response:
    """Teams identities do not exist in Switchboard; say so plainly."""
    raise bad_request(
        "exchanging a Microsoft Teams token is not supported: Switchboard has no "
        "Microsoft Entra ID or Teams tenant",
        code=ErrorCode.NOT_SUPPORTED,
    )


user_router = APIRouter(tags=["identity"])
"""Switchboard's own routes for holders of a user token."""


@user_router.get("/switchboard/v1/me")
async def who_am_i(request: Request) -> JSONResponse:
    """What the caller's token says, after the check every data-plane call makes."""
    principal = await user_principal(request)
    return JSONResponse(
        {
            "id": principal.user.raw,
            "scopes": sorted(scope.value for scope in principal.scopes),
            "expiresOn": iso8601(principal.expires_at),
        }
    )
