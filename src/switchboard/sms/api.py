"""SMS routes, as ACS serves them (WIRE.md §2.3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from switchboard.auth.http import require_hmac, services
from switchboard.core.http import check_api_version, parse_body
from switchboard.sms.records import SendResult
from switchboard.sms.service import RecipientRequest

API_VERSIONS = frozenset({"2020-07-20-preview1", "2020-08-20-preview", "2021-03-07"})
"""The api-versions the SMS SDKs have sent; all behave the same here."""

router = APIRouter(tags=["sms"], dependencies=[Depends(require_hmac)])


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RecipientBody(_Body):
    """One entry of `smsRecipients`."""

    to: StrictStr
    repeatabilityRequestId: StrictStr | None = None
    repeatabilityFirstSent: StrictStr | None = None


class SendOptionsBody(_Body):
    """`smsSendOptions`."""

    enableDeliveryReport: StrictBool = False
    tag: StrictStr | None = None
    validityPeriodSeconds: StrictInt | None = None


class SendBody(_Body):
    """`POST /sms`."""

    sender: StrictStr = Field(alias="from")
    smsRecipients: list[RecipientBody]
    message: StrictStr
    smsSendOptions: SendOptionsBody | None = None


def _version(request: Request) -> None:
    check_api_version(request, API_VERSIONS)


Version = Annotated[None, Depends(_version)]


def _result_json(result: SendResult) -> dict[str, Any]:
    item: dict[str, Any] = {
        "to": result.to,
        "httpStatusCode": result.status,
        "successful": result.successful,
    }
    if result.message_id is not None:
        item["messageId"] = result.message_id
    if result.repeatability is not None:
        item["repeatabilityResult"] = result.repeatability
    if result.error:
        item["errorMessage"] = result.error
    return item


@router.post("/sms", status_code=202)
async def send(request: Request, _: Version) -> JSONResponse:
    """Send one message to each recipient; per-recipient results, 202."""
    body = await parse_body(request, SendBody)
    options = body.smsSendOptions or SendOptionsBody()
    recipients = [
        RecipientRequest(r.to, r.repeatabilityRequestId, r.repeatabilityFirstSent)
        for r in body.smsRecipients
    ]
    results = await services(request).sms.send(
        body.sender,
        recipients,
        body.message,
        delivery_report=options.enableDeliveryReport,
        tag=options.tag or "",
    )
    return JSONResponse({"value": [_result_json(r) for r in results]}, status_code=202)
