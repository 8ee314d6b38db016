"""ASGI assembly: the routers, the error handlers and the middleware around them."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard import __version__
from switchboard.auth.http import services
from switchboard.calls.api import router as calls_router
from switchboard.chat.api import router as chat_router
from switchboard.core.errors import AcsError, ErrorCode
from switchboard.events.api import public_router as events_public_router
from switchboard.events.api import router as events_router
from switchboard.identity.api import router as identity_router
from switchboard.identity.api import user_router as identity_user_router
from switchboard.numbers.api import router as numbers_router
from switchboard.push.api import router as push_router
from switchboard.realtime.api import router as realtime_router
from switchboard.realtime.web import mount_web
from switchboard.rooms.api import router as rooms_router
from switchboard.services import Services
from switchboard.sms.api import router as sms_router
from switchboard.telephony.carriers.virtual_api import router as virtual_phone_router
from switchboard.traversal.api import router as traversal_router
from switchboard.traversal.api import user_router as traversal_user_router

log = logging.getLogger("switchboard.access")
errors_log = logging.getLogger(__name__)


def error_response(error: AcsError) -> JSONResponse:
    """An ACS error body with its status and headers."""
    return JSONResponse(
        error.to_json(), status_code=error.status, headers=error.headers
    )


class _BodyTooLarge(Exception):
    pass


class LimitsAndAccessLog:
    """Pure ASGI middleware: body size limit, request id echo, access log, metrics."""

    def __init__(self, app: ASGIApp, svc: Services) -> None:
        self.app = app
        self.max_body = svc.settings.limits.max_body_bytes
        self.requests = Counter(
            "switchboard_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=svc.registry,
        )
        self.latency = Histogram(
            "switchboard_http_request_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            registry=svc.registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-ms-client-request-id", b"").decode("latin-1")
        status = 500

        # Refuse a declared oversize body before reading any of it.
        declared = headers.get(b"content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > self.max_body
        ):
            status = 413
            await self._too_large(scope, receive, send)
            self._record(scope, status, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if request_id:
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"x-ms-client-request-id", request_id.encode("latin-1")),
                    ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            status = 413
            await self._too_large(scope, receive, send)
        finally:
            self._record(scope, status, started, request_id)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = AcsError(
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"the request body is larger than {self.max_body} bytes",
        )
        await error_response(error)(scope, receive, send)

    def _record(
        self, scope: Scope, status: int, started: float, request_id: str
    ) -> None:
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(scope["method"], route, str(status)).inc()
        self.latency.labels(route).observe(elapsed)
        log.info(
            "%s %s %d %.1fms request_id=%s",
            scope["method"],
            scope["path"],
            status,
            elapsed * 1000,
            request_id or "-",
        )


async def _acs_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AcsError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(
        AcsError(400, ErrorCode.BAD_REQUEST, f"{where}: {first['msg']}", where or None)
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.BAD_REQUEST}
    code = codes.get(exc.status_code, ErrorCode.BAD_REQUEST)
    message = (
        f"no such resource: {request.method} {request.url.path}"
        if exc.status_code == 404
        else str(exc.detail)
    )
    return error_response(AcsError(exc.status_code, code, message))


async def _unexpected(request: Request, exc: Exception) -> Response:
    errors_log.exception("unhandled error in %s %s", request.method, request.url.path)
    return error_response(
        AcsError(500, ErrorCode.INTERNAL, "an internal error occurred")
    )


def create_app(svc: Services) -> ASGIApp:
    """The whole HTTP surface of one node."""
    app = FastAPI(
        title="Switchboard",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = svc
    app.add_exception_handler(AcsError, _acs_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(identity_router)
    app.include_router(identity_user_router)
    app.include_router(chat_router)
    app.include_router(numbers_router)
    app.include_router(sms_router)
    app.include_router(push_router)
    app.include_router(rooms_router)
    app.include_router(calls_router)
    app.include_router(_operations_router())
    app.include_router(events_router)
    app.include_router(events_public_router)
    app.include_router(realtime_router)
    app.include_router(traversal_router)
    app.include_router(traversal_user_router)
    app.include_router(virtual_phone_router)
    mount_web(app)
    return LimitsAndAccessLog(app, svc)


def _operations_router() -> Any:
    from fastapi import APIRouter

    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        try:
            await services(request).db.ping()
        except Exception as exc:
            errors_log.warning("not ready: database did not answer: %s", exc)
            return error_response(
                AcsError(503, ErrorCode.UNAVAILABLE, "the database does not answer")
            )
        return JSONResponse({"status": "ready"})

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        body = generate_latest(services(request).registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/.well-known/jwks.json")
    async def jwks(request: Request) -> dict[str, Any]:
        """The public keys that verify Switchboard user access tokens."""
        keys = services(request).signing_keys
        return {"keys": [key.public_jwk() for key in keys]}

    return router
