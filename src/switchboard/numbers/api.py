"""Phone numbers routes: the ACS phone numbers API (WIRE.md §2.7), HMAC-signed.

Searches, purchases, capability updates and releases are long-running
operations in the azure-core sense (WIRE.md §1.9): a 202 with
`Operation-Location` (and `Location` where the client reads the result from
it), polled until `status` is final.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from switchboard.auth.http import require_hmac, services
from switchboard.core.clock import iso8601
from switchboard.core.errors import bad_request
from switchboard.core.http import check_api_version, next_link, parse_body
from switchboard.numbers.inventory import AssignmentType, Offering
from switchboard.numbers.service import (
    Accepted,
    CapabilitiesUpdate,
    NumberService,
    PurchaseBody,
    SearchBody,
)
from switchboard.numbers.store import Operation, PurchasedNumber, Search
from switchboard.telephony.carriers.base import NumberType

API_VERSIONS = frozenset(
    {
        "2021-03-07",
        "2022-01-11-preview2",
        "2022-12-01",
        "2023-05-01-preview",
        "2024-03-01-preview",
        "2025-02-11",
        "2025-04-01",
        "2025-06-01",
    }
)
"""The versions azure-communication-phonenumbers 1.4.0 lists, and 1.0's."""

MAX_PAGE = 100

E = TypeVar("E", NumberType, AssignmentType)

router = APIRouter(tags=["phone numbers"], dependencies=[Depends(require_hmac)])


def _version(request: Request) -> str:
    return check_api_version(request, API_VERSIONS)


Version = Annotated[str, Depends(_version)]


def _numbers(request: Request) -> NumberService:
    found: NumberService = services(request).numbers
    return found


def _int_param(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise bad_request(f"{name} must be an integer of at least {low}", target=name)
    return int(raw)


def _enum_param(request: Request, name: str, kind: type[E]) -> E | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise bad_request(
            f"{name} {raw!r} is not one of {allowed}", target=name
        ) from None


def _paged(request: Request, key: str, items: list[Any]) -> dict[str, Any]:
    """One page of `items` under `key`, by `skip` and `maxPageSize`."""
    skip = _int_param(request, "skip", 0, 0)
    size = min(_int_param(request, "maxPageSize", MAX_PAGE, 1), MAX_PAGE)
    body: dict[str, Any] = {key: items[skip : skip + size]}
    if skip + size < len(items):
        body["nextLink"] = next_link(request, skip=str(skip + size))
    return body


def _language(request: Request) -> str:
    header = request.headers.get("accept-language", "en")
    return header.split(",")[0].split("-")[0].strip().lower() or "en"


def _url(request: Request, path: str, version: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}?api-version={version}"


def _number_path(number: str) -> str:
    return "/phoneNumbers/" + quote(number, safe="")


def _cost(amount: float, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currencyCode": currency, "billingFrequency": "monthly"}


def _offering_json(offering: Offering) -> dict[str, Any]:
    return {
        "phoneNumberType": offering.number_type.value,
        "assignmentType": offering.assignment_type.value,
        "availableCapabilities": {"calling": offering.calling, "sms": offering.sms},
        "cost": _cost(offering.monthly_cost, offering.currency),
    }


def search_json(search: Search) -> dict[str, Any]:
    """A PhoneNumberSearchResult."""
    return {
        "searchId": search.id,
        "phoneNumbers": search.numbers,
        "phoneNumberType": search.number_type,
        "assignmentType": search.assignment_type,
        "capabilities": {"calling": search.calling, "sms": search.sms},
        "cost": _cost(search.cost, search.currency),
        "searchExpiresBy": iso8601(search.expires_at),
        "isAgreementToNotResellRequired": False,
        "errorCode": 0,
        "error": "NoError",
    }


def purchased_json(number: PurchasedNumber) -> dict[str, Any]:
    """A PurchasedPhoneNumber."""
    return {
        "id": number.number.removeprefix("+"),
        "phoneNumber": number.number,
        "countryCode": number.country,
        "phoneNumberType": number.number_type,
        "capabilities": {"calling": number.calling, "sms": number.sms},
        "assignmentType": number.assignment_type,
        "purchaseDate": iso8601(number.purchased_at),
        "cost": _cost(number.cost, number.currency),
    }


def operation_json(operation: Operation) -> dict[str, Any]:
    """A PhoneNumberOperation, without `resourceLocation` (WIRE.md §2.7)."""
    body: dict[str, Any] = {
        "id": operation.id,
        "operationType": operation.kind,
        "status": operation.status,
        "createdDateTime": iso8601(operation.created_at),
        "lastActionDateTime": iso8601(operation.updated_at),
    }
    if operation.error_code is not None:
        body["error"] = {
            "code": operation.error_code,
            "message": operation.error_message or operation.error_code,
        }
    return body


def _accepted(
    request: Request,
    version: str,
    accepted: Accepted,
    id_header: str,
    location: str | None = None,
) -> Response:
    """The 202 that starts a long-running operation (WIRE.md §1.9)."""
    operation = accepted.operation
    headers = {
        "Operation-Location": _url(
            request, f"/phoneNumbers/operations/{operation.id}", version
        ),
        "operation-id": operation.id,
        id_header: accepted.resource,
        "retry-after-ms": str(services(request).settings.numbers.poll_retry_ms),
    }
    if location is not None:
        headers["Location"] = _url(request, location, version)
    return Response(status_code=202, headers=headers)


# The inventory.


@router.get("/availablePhoneNumbers/countries")
async def countries(request: Request, _: Version) -> dict[str, Any]:
    """Countries with numbers on offer."""
    found = _numbers(request).countries(_language(request))
    items = [{"countryCode": code, "localizedName": name} for code, name in found]
    return _paged(request, "countries", items)


@router.get("/availablePhoneNumbers/countries/{country_code}/localities")
async def localities(request: Request, country_code: str, _: Version) -> dict[str, Any]:
    """Localities with numbers on offer in a country."""
    number_type = _enum_param(request, "phoneNumberType", NumberType)
    found = _numbers(request).localities(country_code.upper(), number_type)
    # No block names an administrative division, so asking for one finds none.
    if request.query_params.get("administrativeDivision"):
        found = []
    items = [{"localizedName": name} for name in found]
    return _paged(request, "phoneNumberLocalities", items)


@router.get("/availablePhoneNumbers/countries/{country_code}/areaCodes")
async def area_codes(request: Request, country_code: str, _: Version) -> dict[str, Any]:
    """Area codes with numbers of a type on offer in a country."""
    number_type = _enum_param(request, "phoneNumberType", NumberType)
    if number_type is None:
        raise bad_request("phoneNumberType is required", target="phoneNumberType")
    _enum_param(request, "assignmentType", AssignmentType)
    locality = request.query_params.get("locality")
    found = _numbers(request).area_codes(country_code.upper(), number_type, locality)
    if request.query_params.get("administrativeDivision"):
        found = []
    return _paged(request, "areaCodes", [{"areaCode": code} for code in found])


@router.get("/availablePhoneNumbers/countries/{country_code}/offerings")
async def offerings(request: Request, country_code: str, _: Version) -> dict[str, Any]:
    """Kinds of numbers on offer in a country, with their monthly cost."""
    found = _numbers(request).offerings(
        country_code.upper(),
        _enum_param(request, "phoneNumberType", NumberType),
        _enum_param(request, "assignmentType", AssignmentType),
    )
    items = [_offering_json(o) for o in found]
    return _paged(request, "phoneNumberOfferings", items)


# Searches and purchases.


@router.post("/availablePhoneNumbers/countries/{country_code}/:search")
async def search(request: Request, country_code: str, version: Version) -> Response:
    """Find and hold numbers (long-running; the result is at `Location`)."""
    body = await parse_body(request, SearchBody)
    accepted = await _numbers(request).search(country_code.upper(), body)
    result = f"/availablePhoneNumbers/searchResults/{accepted.resource}"
    return _accepted(request, version, accepted, "search-id", result)


@router.get("/availablePhoneNumbers/searchResults/{search_id}")
async def search_result(request: Request, search_id: str, _: Version) -> JSONResponse:
    """A search's held numbers and their terms."""
    return JSONResponse(search_json(await _numbers(request).search_result(search_id)))


@router.post("/availablePhoneNumbers/:purchase")
async def purchase(request: Request, version: Version) -> Response:
    """Buy the numbers a search holds (long-running)."""
    body = await parse_body(request, PurchaseBody)
    accepted = await _numbers(request).purchase(body)
    return _accepted(request, version, accepted, "purchase-id")


# Operations; declared before /phoneNumbers/{number} so they match first.


@router.get("/phoneNumbers/operations/{operation_id}")
async def get_operation(request: Request, operation_id: str, _: Version) -> Response:
    """The state of a long-running operation."""
    operation = await _numbers(request).operation(operation_id)
    retry = str(services(request).settings.numbers.poll_retry_ms)
    return JSONResponse(operation_json(operation), headers={"retry-after-ms": retry})


@router.delete("/phoneNumbers/operations/{operation_id}")
async def delete_operation(request: Request, operation_id: str, _: Version) -> Response:
    """Forget an operation (it has always finished already)."""
    await _numbers(request).delete_operation(operation_id)
    return Response(status_code=204)


# Purchased numbers.


@router.get("/phoneNumbers")
async def list_numbers(request: Request, _: Version) -> dict[str, Any]:
    """Purchased numbers, paged by `skip` and `top`."""
    skip = _int_param(request, "skip", 0, 0)
    top = min(_int_param(request, "top", MAX_PAGE, 1), MAX_PAGE)
    found = await _numbers(request).page(skip, top + 1)
    body: dict[str, Any] = {"phoneNumbers": [purchased_json(n) for n in found[:top]]}
    if len(found) > top:
        body["nextLink"] = next_link(request, skip=str(skip + top), top=str(top))
    return body


@router.get("/phoneNumbers/{phone_number}")
async def get_number(request: Request, phone_number: str, _: Version) -> JSONResponse:
    """One purchased number."""
    return JSONResponse(purchased_json(await _numbers(request).get(phone_number)))


@router.delete("/phoneNumbers/{phone_number}")
async def release(request: Request, phone_number: str, version: Version) -> Response:
    """Release a purchased number (long-running)."""
    accepted = await _numbers(request).release(phone_number)
    return _accepted(request, version, accepted, "release-id")


@router.patch("/phoneNumbers/{phone_number}/capabilities")
async def update_capabilities(
    request: Request, phone_number: str, version: Version
) -> Response:
    """Change a number's calling and SMS capabilities (long-running)."""
    body = await parse_body(request, CapabilitiesUpdate)
    accepted = await _numbers(request).update_capabilities(phone_number, body)
    location = _number_path(phone_number)
    return _accepted(request, version, accepted, "capabilities-id", location)
