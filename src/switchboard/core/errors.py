"""The ACS error family: one exception whose fields serialise to the error body."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Error codes Switchboard puts in `error.code`, as ACS spells them."""

    BAD_REQUEST = "BadRequest"
    INVALID_REQUEST_BODY = "InvalidRequestBody"
    INVALID_API_VERSION = "InvalidApiVersion"
    MISSING_API_VERSION = "MissingApiVersionParameter"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    CONFLICT = "Conflict"
    PAYLOAD_TOO_LARGE = "RequestEntityTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    TOO_MANY_REQUESTS = "TooManyRequests"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL = "InternalError"
    UNAVAILABLE = "ServiceUnavailable"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of `error.details`."""

    code: str
    message: str
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The detail as it appears on the wire."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        return body


@dataclass(slots=True)
class AcsError(Exception):
    """An error answered to the client in the CommunicationErrorResponse shape."""

    status: int
    code: str
    message: str
    target: str | None = None
    details: list[ErrorDetail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The `{"error": {...}}` body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details:
            error["details"] = [d.to_json() for d in self.details]
        return {"error": error}


def bad_request(
    message: str,
    *,
    code: str = ErrorCode.BAD_REQUEST,
    target: str | None = None,
    details: list[ErrorDetail] | None = None,
) -> AcsError:
    """A 400 with the given message."""
    return AcsError(400, code, message, target, details or [])


def unauthorized(message: str) -> AcsError:
    """A 401; the message says which check failed, never what was expected."""
    return AcsError(401, ErrorCode.UNAUTHORIZED, message)


def forbidden(message: str) -> AcsError:
    """A 403."""
    return AcsError(403, ErrorCode.FORBIDDEN, message)


def not_found(message: str, *, target: str | None = None) -> AcsError:
    """A 404."""
    return AcsError(404, ErrorCode.NOT_FOUND, message, target)


def too_many_requests(message: str, retry_after_s: int) -> AcsError:
    """A 429 carrying `Retry-After`."""
    return AcsError(
        429,
        ErrorCode.TOO_MANY_REQUESTS,
        message,
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


class StartupError(Exception):
    """A node cannot start (a port in use, say); the message says what to change."""
