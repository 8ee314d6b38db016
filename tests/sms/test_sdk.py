"""The official azure-communication-sms client against a real node."""

from __future__ import annotations

import json
import uuid
from email.utils import formatdate
from typing import Any

import pytest
from azure.communication.phonenumbers import PhoneNumberCapabilityType
from azure.communication.sms import SmsClient
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tests.conftest import RunningServer, signed
from tests.sms.conftest import HANDSET, buy, handset_messages, wait_until

V = "api-version=2021-03-07"


def delivered_texts(node: RunningServer, handset: str, count: int) -> list[str]:
    """Wait until the handset shows `count` messages and return their texts."""

    def enough() -> list[dict[str, Any]] | None:
        found = handset_messages(node, handset)
        return found if len(found) >= count else None

    messages = wait_until(f"{count} messages on {handset}", enough)
    return [m["text"] for m in messages]


def send_raw(node: RunningServer, body: dict[str, Any]) -> Any:
    return signed(node, "POST", f"/sms?{V}", json.dumps(body).encode())


def test_send_to_one_recipient_reaches_the_handset(
    node: RunningServer, sms: SmsClient, sender: str
) -> None:
    handset = "+12065551001"

    [result] = sms.send(from_=sender, to=handset, message="Hello from Switchboard €")

    assert result.to == handset
    assert result.successful is True
    assert result.http_status_code == 202
    assert result.error_message is None
    assert result.message_id.startswith("Outgoing_")
    assert delivered_texts(node, handset, 1) == ["Hello from Switchboard €"]
    [shown] = handset_messages(node, handset)
    assert shown["peer"] == sender
    assert shown["switchboardMessageId"] == result.message_id


def test_send_to_many_recipients_gives_a_result_each(
    node: RunningServer, sms: SmsClient, sender: str
) -> None:
    handsets = ["+12065551011", "+12065551012", "+12065551013"]

    results = sms.send(
        from_=sender,
        to=[*handsets, "+1555", "12065551014"],
        message="group text",
        enable_delivery_report=True,
        tag="batch-7",
    )

    assert [r.to for r in results] == [*handsets, "+1555", "12065551014"]
    assert [r.http_status_code for r in results] == [202, 202, 202, 400, 400]
    assert [r.successful for r in results] == [True, True, True, False, False]
    assert len({r.message_id for r in results[:3]}) == 3
    assert results[3].message_id is None
    assert results[3].error_message == "'+1555' is not a valid E.164 phone number"
    assert results[4].error_message == "'12065551014' is not a valid E.164 phone number"
    for handset in handsets:
        assert delivered_texts(node, handset, 1) == ["group text"]


def test_a_long_unicode_message_arrives_whole(
    node: RunningServer, sms: SmsClient, sender: str
) -> None:
    handset = "+12065551021"
    text = "Grüße 😀 " * 60

    [result] = sms.send(from_=sender, to=handset, message=text)

    assert result.successful is True
    assert delivered_texts(node, handset, 1) == [text]


def test_sender_the_resource_does_not_own_is_401(sms: SmsClient) -> None:
    with pytest.raises(ClientAuthenticationError) as caught:
        sms.send(from_="+14255550199", to=HANDSET, message="hi")

    assert caught.value.status_code == 401
    assert caught.value.error.code == "Unauthorized"
    assert (
        caught.value.error.message
        == "the number +14255550199 does not belong to this resource"
    )


def test_sender_without_outbound_sms_is_403(
    node: RunningServer, sms: SmsClient
) -> None:
    inbound_only = buy(node, PhoneNumberCapabilityType.INBOUND, area_code="206")

    with pytest.raises(HttpResponseError) as caught:
        sms.send(from_=inbound_only, to=HANDSET, message="hi")

    assert caught.value.status_code == 403
    assert caught.value.error.code == "Forbidden"
    assert caught.value.error.message == (
        f"the number {inbound_only} has no outbound SMS capability "
        "(its SMS capability is 'inbound')"
    )


def test_sender_that_is_no_phone_number_is_400(sms: SmsClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sms.send(from_="Contoso", to=HANDSET, message="hi")

    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidRequestBody"
    assert (
        caught.value.error.message
        == "from: 'Contoso' is not a valid E.164 phone number"
    )


def test_101_recipients_is_400(sms: SmsClient, sender: str) -> None:
    recipients = [f"+1206555{2000 + i}" for i in range(101)]

    with pytest.raises(HttpResponseError) as caught:
        sms.send(from_=sender, to=recipients, message="too many")

    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidRequestBody"
    assert (
        caught.value.error.message
        == "smsRecipients must hold 1 to 100 recipients, not 101"
    )


def test_100_recipients_are_accepted(sms: SmsClient, sender: str) -> None:
    recipients = [f"+1206555{3000 + i}" for i in range(100)]

    results = sms.send(from_=sender, to=recipients, message="exactly enough")

    assert [r.http_status_code for r in results] == [202] * 100


def test_message_over_2048_characters_is_400(sms: SmsClient, sender: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sms.send(from_=sender, to=HANDSET, message="a" * 2049)

    assert caught.value.status_code == 400
    assert caught.value.error.message == (
        "message is 2049 characters long; at most 2048 are allowed"
    )


def test_same_repeatability_id_gives_the_stored_result_and_one_message(
    node: RunningServer, sender: str
) -> None:
    handset = "+12065551031"
    first_sent = formatdate(usegmt=True)
    entry = {
        "to": handset,
        "repeatabilityRequestId": str(uuid.uuid4()),
        "repeatabilityFirstSent": first_sent,
    }
    body = {
        "from": sender,
        "smsRecipients": [entry],
        "message": "only once",
        "smsSendOptions": {"enableDeliveryReport": False},
    }

    first = send_raw(node, body)
    again = send_raw(node, body)
    changed = send_raw(node, {**body, "message": "something else"})

    assert first.status_code == 202
    assert again.status_code == 202
    [item] = first.json()["value"]
    assert item["httpStatusCode"] == 202
    assert item["repeatabilityResult"] == "accepted"
    assert again.json()["value"] == [item]
    [conflict] = changed.json()["value"]
    assert conflict == {
        "to": handset,
        "httpStatusCode": 409,
        "successful": False,
        "repeatabilityResult": "rejected",
        "errorMessage": (
            "the repeatabilityRequestId was already used for a different message"
        ),
    }
    assert delivered_texts(node, handset, 1) == ["only once"]
    # A later message proves nothing else was queued behind the first.
    send_raw(node, {**body, "smsRecipients": [{"to": handset}], "message": "next"})
    assert delivered_texts(node, handset, 2) == ["only once", "next"]


def test_per_number_rate_limit_is_429_with_retry_after(
    node: RunningServer, sender: str
) -> None:
    body = {"from": sender, "smsRecipients": [{"to": HANDSET}], "message": "x"}
    budget = int(node.env["SWITCHBOARD_SMS_NUMBER_REQUESTS"])

    answers = [send_raw(node, body) for _ in range(budget + 1)]

    assert [a.status_code for a in answers] == [202] * budget + [429]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert refused.json()["error"]["message"].startswith(
        f"too many requests for sender {sender}; retry after "
    )


def test_bad_body_and_api_version(node: RunningServer, sender: str) -> None:
    missing = send_raw(node, {"from": sender, "message": "x"})
    wrong_version = signed(node, "POST", "/sms?api-version=1999-01-01", b"{}")

    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "InvalidRequestBody"
    assert missing.json()["error"]["target"] == "smsRecipients"
    assert wrong_version.status_code == 400
    assert wrong_version.json()["error"]["code"] == "InvalidApiVersion"


def test_unsigned_request_is_401(node: RunningServer) -> None:
    import httpx

    answer = httpx.post(f"{node.endpoint}/sms?{V}", json={}, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "Unauthorized"
