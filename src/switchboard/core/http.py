"""HTTP helpers the capability routes share: bodies, api-versions, the services."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from switchboard.core.errors import ErrorCode, ErrorDetail, bad_request

M = TypeVar("M", bound=BaseModel)


def check_api_version(request: Request, known: frozenset[str]) -> str:
    """The request's api-version, or a 400 when it is missing or unknown."""
    version = request.query_params.get("api-version")
    if version is None:
        raise bad_request(
            "the api-version query parameter is required",
            code=ErrorCode.MISSING_API_VERSION,
            target="api-version",
        )
    if version not in known:
        supported = ", ".join(sorted(known))
        raise bad_request(
            f"api-version {version!r} is not supported; supported versions: "
            f"{supported}",
            code=ErrorCode.INVALID_API_VERSION,
            target="api-version",
        )
    return version


async def read_json(request: Request) -> Any:
    """The body as JSON (None when empty), or a 400 saying why it is not JSON."""
    body = await request.body()
    if not body.strip():
        return None
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type.split(";")[0].lower():
        raise bad_request(
            f"the body must be JSON, not {content_type}",
            code=ErrorCode.INVALID_REQUEST_BODY,
        )
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(
            f"the body is not valid JSON: {exc}", code=ErrorCode.INVALID_REQUEST_BODY
        ) from exc


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`, or a 400 listing every field that is wrong."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        details = [
            ErrorDetail(
                code=ErrorCode.INVALID_REQUEST_BODY,
                message=err["msg"],
                target=".".join(str(p) for p in err["loc"]) or None,
            )
            for err in exc.errors()
        ]
        first = details[0]
        where = f" at {first.target}" if first.target else ""
        raise bad_request(
            f"the request body is invalid{where}: {first.message}",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target=first.target,
            details=details,
        ) from exc


async def parse_body(request: Request, model: type[M]) -> M:
    """Read and validate a JSON body in one step."""
    return validate(model, await read_json(request))


def next_link(request: Request, **params: str) -> str:
    """The absolute URL of the next page: this request's, with `params` replaced."""
    query = dict(request.query_params)
    query.update(params)
    return str(request.url.replace_query_params(**query))
