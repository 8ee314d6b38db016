"""Event subscription routes: Switchboard's own API, in the ACS conventions.

HMAC-signed like the identity API, `api-version` required, errors in the ACS
error body, lists as `{value, nextLink}`. docs/events.md describes each route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from switchboard.auth.http import require_hmac, services
from switchboard.core.clock import iso8601
from switchboard.core.errors import bad_request
from switchboard.core.http import check_api_version, next_link, parse_body
from switchboard.events.service import EventSubscriptions, SubscriptionBody
from switchboard.events.store import DeadLetter, Subscription

API_VERSIONS = frozenset({"2026-12-01"})
"""The event subscription API's versions."""

MAX_PAGE = 100

router = APIRouter(tags=["events"], dependencies=[Depends(require_hmac)])
public_router = APIRouter(tags=["events"])
"""Routes a webhook owner reaches without the access key: the validation link."""


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


Version = Annotated[None, Depends(_version)]


def _events(request: Request) -> EventSubscriptions:
    found: EventSubscriptions = services(request).events
    return found


def subscription_json(sub: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it; the secret is never shown again."""
    return {
        "name": sub.name,
        "targetUrl": sub.target_url,
        "eventTypes": sub.event_types,
        "subjectBeginsWith": sub.subject_prefix,
        "envelope": sub.envelope.value,
        "retryPolicy": {
            "maxDeliveryAttempts": sub.max_attempts,
            "eventTimeToLiveInMinutes": int(sub.max_age_s // 60),
        },
        "state": sub.state,
        "stateDetail": sub.state_detail,
        "createdOn": iso8601(sub.created_at),
        "updatedOn": iso8601(sub.updated_at),
    }


def _dead_letter_json(item: DeadLetter) -> dict[str, Any]:
    return {
        "id": str(item.delivery_id),
        "eventId": item.event_id,
        "eventType": item.event_type,
        "subject": item.subject,
        "attempts": item.attempts,
        "lastError": item.last_error,
        "failedOn": iso8601(item.failed_at),
    }


def _page_size(request: Request) -> int:
    raw = request.query_params.get("maxPageSize", str(MAX_PAGE))
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(
            "maxPageSize must be a positive integer", target="maxPageSize"
        )
    return min(int(raw), MAX_PAGE)


@router.get("/eventSubscriptions")
async def list_subscriptions(request: Request, _: Version) -> dict[str, Any]:
    """Subscriptions in name order, paged."""
    size = _page_size(request)
    after = request.query_params.get("continuationToken", "")
    subs = await _events(request).page(after, size + 1)
    body: dict[str, Any] = {"value": [subscription_json(s) for s in subs[:size]]}
    if len(subs) > size:
        body["nextLink"] = next_link(request, continuationToken=subs[size - 1].name)
    return body


@router.put("/eventSubscriptions/{name}")
async def put_subscription(request: Request, name: str, _: Version) -> JSONResponse:
    """Create (201) or replace (200) a subscription; its handshake follows."""
    body = await parse_body(request, SubscriptionBody)
    sub, created, secret = await _events(request).put(name, body)
    answer = subscription_json(sub)
    if secret is not None:
        answer["secret"] = secret
    return JSONResponse(answer, status_code=201 if created else 200)


@router.patch("/eventSubscriptions/{name}")
async def patch_subscription(request: Request, name: str, _: Version) -> JSONResponse:
    """Change some fields of a subscription."""
    body = await parse_body(request, SubscriptionBody)
    return JSONResponse(subscription_json(await _events(request).patch(name, body)))


@router.get("/eventSubscriptions/{name}")
async def get_subscription(request: Request, name: str, _: Version) -> JSONResponse:
    """One subscription."""
    return JSONResponse(subscription_json(await _events(request).get(name)))


@router.delete("/eventSubscriptions/{name}", status_code=204)
async def delete_subscription(request: Request, name: str, _: Version) -> Response:
    """Delete a subscription."""
    await _events(request).delete(name)
    return Response(status_code=204)


@router.post("/eventSubscriptions/{name}/:validate", status_code=202)
async def revalidate(request: Request, name: str, _: Version) -> JSONResponse:
    """Run the subscription's handshake again."""
    sub = await _events(request).revalidate(name)
    return JSONResponse(subscription_json(sub), status_code=202)


@router.get("/eventSubscriptions/{name}/deadLetters")
async def dead_letters(request: Request, name: str, _: Version) -> dict[str, Any]:
    """Events the subscription gave up on, oldest first."""
    size = _page_size(request)
    token = request.query_params.get("continuationToken", "0")
    if not token.isdigit():
        raise bad_request("the continuationToken is not valid for this list")
    items = await _events(request).dead_letters(name, int(token), size + 1)
    body: dict[str, Any] = {"value": [_dead_letter_json(i) for i in items[:size]]}
    if len(items) > size:
        last = str(items[size - 1].delivery_id)
        body["nextLink"] = next_link(request, continuationToken=last)
    return body


@router.post("/eventSubscriptions/{name}/deadLetters/:replay", status_code=202)
async def replay_all(request: Request, name: str, _: Version) -> JSONResponse:
    """Queue every dead letter of the subscription again."""
    count = await _events(request).replay(name, None)
    return JSONResponse({"replayed": count}, status_code=202)


@router.post("/eventSubscriptions/{name}/deadLetters/{item}/:replay", status_code=202)
async def replay_one(
    request: Request, name: str, item: str, _: Version
) -> JSONResponse:
    """Queue one dead letter again."""
    if not item.isdigit():
        raise bad_request("a dead letter id is a number", target="id")
    count = await _events(request).replay(name, int(item))
    return JSONResponse({"replayed": count}, status_code=202)


@public_router.get("/eventSubscriptions/{name}/validation")
async def validation_link(request: Request, name: str) -> JSONResponse:
    """The `validationUrl` of an Event Grid handshake: opening it activates."""
    code = request.query_params.get("code", "")
    sub = await _events(request).validate_with_code(name, code)
    return JSONResponse({"name": sub.name, "state": sub.state})
