"""Dependencies that authenticate a request: HMAC for services, Bearer for users."""

from __future__ import annotations

import logging

from fastapi import Request

from switchboard.auth.hmac import HmacError, SignedRequest, verify
from switchboard.auth.scopes import Scope
from switchboard.auth.tokens import Principal, bearer_token
from switchboard.core.errors import unauthorized
from switchboard.services import Services

log = logging.getLogger(__name__)


def services(request: Request) -> Services:
    """The node's services, as the composition root stored them on the app."""
    found: Services = request.app.state.services
    return found


async def require_hmac(request: Request) -> None:
    """Accept only requests signed with one of the resource's access keys."""
    svc = services(request)
    authorization = request.headers.get("authorization")
    if authorization is not None and authorization.lower().startswith("bearer "):
        raise unauthorized(
            "this API takes HMAC-SHA256 signed requests; Entra ID bearer tokens are "
            "not supported"
        )

    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    path_and_query = raw_path.decode("latin-1")
    if query:
        path_and_query += "?" + query.decode("latin-1")
    signed = SignedRequest(
        method=request.method,
        path_and_query=path_and_query,
        host=request.headers.get("host", ""),
        authorization=authorization,
        date=request.headers.get("x-ms-date"),
        content_sha256=request.headers.get("x-ms-content-sha256"),
        body=await request.body(),
    )
    skew = svc.settings.limits.clock_skew_s
    try:
        verify(signed, svc.resource.access_keys, svc.clock(), skew)
        return
    except HmacError as exc:
        failure = str(exc)
    # A key regenerated elsewhere is picked up on the first request that needs it.
    if failure.startswith("the signature"):
        await svc.resource.reload_after_failure()
        try:
            verify(signed, svc.resource.access_keys, svc.clock(), skew)
            return
        except HmacError as exc:
            failure = str(exc)
    log.warning("HMAC authentication failed: %s", failure)
    raise unauthorized(f"HMAC authentication failed: {failure}")


async def user_principal(
    request: Request, allowed_scopes: frozenset[Scope] | None = None
) -> Principal:
    """The user a Bearer token speaks for, checked in full."""
    token = bearer_token(request.headers.get("authorization"))
    return await services(request).tokens.verify(token, allowed_scopes)
