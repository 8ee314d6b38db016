"""The phone numbers API on the wire: LRO headers, operations, versions, bad input."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from azure.communication.phonenumbers import PhoneNumberCapabilities
from azure.communication.phonenumbers.aio import PhoneNumbersClient

from tests.conftest import RunningServer, signed

VERSION = "api-version=2025-06-01"
SEARCH = {
    "phoneNumberType": "geographic",
    "assignmentType": "application",
    "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
    "areaCode": "206",
}


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_search_answers_202_with_every_lro_header(server: RunningServer) -> None:
    answer = signed(
        server,
        "POST",
        f"/availablePhoneNumbers/countries/US/:search?{VERSION}",
        json.dumps(SEARCH).encode(),
    )
    assert answer.status_code == 202
    search_id = answer.headers["search-id"]
    operation_id = answer.headers["operation-id"]
    assert operation_id == f"search_{search_id}"
    assert answer.headers["retry-after-ms"] == "10"
    operation_url = answer.headers["Operation-Location"]
    assert operation_url == (
        f"https://localhost:{server.https_port}/phoneNumbers/operations/"
        f"{operation_id}?{VERSION}"
    )
    assert answer.headers["Location"] == (
        f"https://localhost:{server.https_port}/availablePhoneNumbers/searchResults/"
        f"{search_id}?{VERSION}"
    )

    status = signed(server, "GET", _path(operation_url))
    assert status.status_code == 200
    body = status.json()
    assert body["id"] == operation_id
    assert body["operationType"] == "search"
    assert body["status"] == "succeeded"
    assert "resourceLocation" not in body
    assert body["createdDateTime"].endswith("Z")

    gone = signed(server, "DELETE", _path(operation_url))
    assert gone.status_code == 204
    again = signed(server, "GET", _path(operation_url))
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NotFound"


def test_an_out_of_stock_search_is_a_failed_operation(
    server_factory: type[RunningServer],
) -> None:
    node = server_factory.start()
    big = {**SEARCH, "quantity": 100}
    path = f"/availablePhoneNumbers/countries/US/:search?{VERSION}"
    assert signed(node, "POST", path, json.dumps(big).encode()).status_code == 202
    answer = signed(node, "POST", path, json.dumps(SEARCH).encode())
    assert answer.status_code == 202
    status = signed(node, "GET", _path(answer.headers["Operation-Location"])).json()
    assert status["status"] == "failed"
    assert status["error"] == {
        "code": "OutOfStock",
        "message": "fewer than 1 numbers of this kind are available",
    }
    result = signed(node, "GET", _path(answer.headers["Location"]))
    assert result.status_code == 404


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({**SEARCH, "quantity": 0}, "quantity"),
        ({**SEARCH, "quantity": 101}, "quantity"),
        ({**SEARCH, "phoneNumberType": "satellite"}, "phoneNumberType"),
        ({**SEARCH, "capabilities": {"calling": "inbound"}}, "capabilities.sms"),
        ({k: v for k, v in SEARCH.items() if k != "assignmentType"}, "assignmentType"),
    ],
)
def test_bad_search_bodies_are_400(
    server: RunningServer, body: dict[str, object], target: str
) -> None:
    answer = signed(
        server,
        "POST",
        f"/availablePhoneNumbers/countries/US/:search?{VERSION}",
        json.dumps(body).encode(),
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidRequestBody"
    assert answer.json()["error"]["target"] == target


def test_purchase_without_a_search_id_is_a_400(server: RunningServer) -> None:
    answer = signed(
        server, "POST", f"/availablePhoneNumbers/:purchase?{VERSION}", b"{}"
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "InvalidRequestBody",
        "message": "searchId is required",
        "target": "searchId",
    }


def test_a_malformed_number_is_a_400(server: RunningServer) -> None:
    answer = signed(server, "GET", f"/phoneNumbers/12345abc?{VERSION}")
    assert answer.status_code == 400
    assert answer.json()["error"]["target"] == "phoneNumber"


def test_older_api_versions_are_accepted_and_unknown_ones_refused(
    server: RunningServer,
) -> None:
    for version in ("2022-12-01", "2025-04-01", "2021-03-07"):
        answer = signed(server, "GET", f"/phoneNumbers?api-version={version}")
        assert answer.status_code == 200, version
    answer = signed(server, "GET", "/phoneNumbers?api-version=2019-01-01")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidApiVersion"


def test_unsigned_requests_are_refused(server: RunningServer) -> None:
    answer = signed(server, "GET", f"/phoneNumbers?{VERSION}", key="AAAA")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "Unauthorized"


async def test_async_client_searches_buys_and_releases(server: RunningServer) -> None:
    client = PhoneNumbersClient.from_connection_string(server.connection_string)
    async with client:
        poller = await client.begin_search_available_phone_numbers(
            "GB",
            "mobile",
            "application",
            PhoneNumberCapabilities(calling="inbound", sms="inbound+outbound"),
        )
        result = await poller.result()
        [number] = result.phone_numbers
        assert number.startswith("+447700900")

        await (await client.begin_purchase_phone_numbers(result.search_id)).result()
        owned = await client.get_purchased_phone_number(number)
        assert (owned.capabilities.calling, owned.capabilities.sms) == (
            "inbound",
            "inbound+outbound",
        )
        await (await client.begin_release_phone_number(number)).result()
        listed = [n.phone_number async for n in client.list_purchased_phone_numbers()]
        assert number not in listed
