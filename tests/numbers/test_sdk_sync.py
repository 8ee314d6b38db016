"""The official azure-communication-phonenumbers client, sync, against real nodes.

The virtual carrier's fictional ranges are the inventory: US geographic blocks
in area codes 425 (Redmond) and 206 (Seattle), US toll-free 800, GB geographic
London numbers without SMS, and GB mobile. Each test releases what it buys, so
the shared nodes keep their stock for the rest of the suite.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from azure.communication.phonenumbers import (
    PhoneNumberAssignmentType,
    PhoneNumberCapabilities,
    PhoneNumberCapabilityType,
    PhoneNumbersClient,
    PhoneNumberSearchResult,
    PhoneNumberType,
)
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from tests.conftest import RunningServer

BOTH = PhoneNumberCapabilityType.INBOUND_OUTBOUND
NONE = PhoneNumberCapabilityType.NONE
APP = PhoneNumberAssignmentType.APPLICATION


@pytest.fixture
def client(server: RunningServer) -> PhoneNumbersClient:
    return PhoneNumbersClient.from_connection_string(server.connection_string)


def search(
    client: PhoneNumbersClient,
    country: str = "US",
    kind: PhoneNumberType = PhoneNumberType.GEOGRAPHIC,
    calling: str = BOTH,
    sms: str = BOTH,
    **kwargs: object,
) -> PhoneNumberSearchResult:
    poller = client.begin_search_available_phone_numbers(
        country, kind, APP, PhoneNumberCapabilities(calling=calling, sms=sms), **kwargs
    )
    return poller.result()


@pytest.fixture
def bought(client: PhoneNumbersClient) -> Iterator[list[str]]:
    """Numbers a test bought; whichever are still owned at the end are released."""
    numbers: list[str] = []
    yield numbers
    owned = {n.phone_number for n in client.list_purchased_phone_numbers()}
    for number in numbers:
        if number in owned:
            client.begin_release_phone_number(number).result()


def buy(client: PhoneNumbersClient, bought: list[str], **kwargs: object) -> list[str]:
    result = search(client, **kwargs)  # type: ignore[arg-type]
    client.begin_purchase_phone_numbers(result.search_id).result()
    bought += result.phone_numbers
    return result.phone_numbers


# The inventory.


def test_countries_are_those_of_the_carriers_blocks(client: PhoneNumbersClient) -> None:
    countries = {
        c.country_code: c.localized_name for c in client.list_available_countries()
    }
    assert countries == {"GB": "United Kingdom", "US": "United States"}


def test_country_names_follow_accept_language(server: RunningServer) -> None:
    client = PhoneNumbersClient.from_connection_string(
        server.connection_string, accepted_language="fr-FR"
    )
    names = {
        c.country_code: c.localized_name for c in client.list_available_countries()
    }
    assert names["GB"] == "Royaume-Uni"


def test_localities_of_a_country(client: PhoneNumbersClient) -> None:
    names = [loc.localized_name for loc in client.list_available_localities("US")]
    assert names == ["Redmond", "Seattle"]
    toll_free = client.list_available_localities(
        "US", phone_number_type=PhoneNumberType.TOLL_FREE
    )
    assert list(toll_free) == []


def test_area_codes_by_type_and_locality(client: PhoneNumbersClient) -> None:
    geographic = client.list_available_area_codes("US", PhoneNumberType.GEOGRAPHIC)
    assert [a.area_code for a in geographic] == ["206", "425"]
    seattle = client.list_available_area_codes(
        "US", PhoneNumberType.GEOGRAPHIC, locality="Seattle"
    )
    assert [a.area_code for a in seattle] == ["206"]
    toll_free = client.list_available_area_codes("US", PhoneNumberType.TOLL_FREE)
    assert [a.area_code for a in toll_free] == ["800"]


def test_offerings_carry_capabilities_and_monthly_cost(
    client: PhoneNumbersClient,
) -> None:
    offers = list(
        client.list_available_offerings(
            "GB", phone_number_type=PhoneNumberType.GEOGRAPHIC, assignment_type=APP
        )
    )
    assert len(offers) == 1
    offer = offers[0]
    assert (offer.phone_number_type, offer.assignment_type) == ("geographic", APP)
    assert offer.available_capabilities.calling == BOTH
    assert offer.available_capabilities.sms == NONE
    assert (offer.cost.amount, offer.cost.currency_code) == (1.0, "USD")
    assert offer.cost.billing_frequency == "monthly"
    everything = list(client.list_available_offerings("US"))
    assert {(o.phone_number_type, o.assignment_type) for o in everything} == {
        (t, a) for t in ("geographic", "tollFree") for a in ("application", "person")
    }


def test_an_unknown_country_is_a_400(client: PhoneNumbersClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(client.list_available_localities("ZZ"))
    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadRequest"
    assert caught.value.error.message == "no phone numbers are offered in country 'ZZ'"
    with pytest.raises(HttpResponseError) as caught:
        search(client, country="ZZ")
    assert caught.value.status_code == 400


# Search, purchase, update, release.


def test_search_holds_numbers_of_the_asked_kind(client: PhoneNumbersClient) -> None:
    result = search(client, area_code="206", quantity=2)
    assert len(result.phone_numbers) == 2
    assert all(n.startswith("+1206555") for n in result.phone_numbers)
    assert result.phone_number_type == "geographic"
    assert result.assignment_type == APP
    assert (result.capabilities.calling, result.capabilities.sms) == (BOTH, BOTH)
    assert (result.cost.amount, result.cost.currency_code) == (1.0, "USD")
    held_for = result.search_expires_by - datetime.now(UTC)
    assert 800 < held_for.total_seconds() <= 900
    again = client._phone_number_client.phone_numbers.get_search_result(
        result.search_id
    )
    assert again.phone_numbers == result.phone_numbers


def test_two_searches_never_hold_the_same_number(client: PhoneNumbersClient) -> None:
    first = search(client, area_code="425", quantity=3)
    second = search(client, area_code="425", quantity=3)
    assert not set(first.phone_numbers) & set(second.phone_numbers)


def test_purchase_get_update_list_and_release(
    client: PhoneNumbersClient, bought: list[str]
) -> None:
    [number] = buy(client, bought, kind=PhoneNumberType.TOLL_FREE)

    owned = client.get_purchased_phone_number(number)
    assert owned.phone_number == number
    assert owned.id == number.removeprefix("+")
    assert (owned.country_code, owned.phone_number_type) == ("US", "tollFree")
    assert owned.assignment_type == APP
    assert (owned.capabilities.calling, owned.capabilities.sms) == (BOTH, BOTH)
    assert (owned.cost.amount, owned.cost.billing_frequency) == (2.0, "monthly")
    assert abs(owned.purchase_date.timestamp() - time.time()) < 60

    updated = client.begin_update_phone_number_capabilities(
        number, sms=PhoneNumberCapabilityType.OUTBOUND, calling=NONE
    ).result()
    assert (updated.capabilities.calling, updated.capabilities.sms) == (
        NONE,
        "outbound",
    )
    only_sms = client.begin_update_phone_number_capabilities(
        number, sms=PhoneNumberCapabilityType.INBOUND
    ).result()
    assert (only_sms.capabilities.calling, only_sms.capabilities.sms) == (
        NONE,
        "inbound",
    )
    assert number in {n.phone_number for n in client.list_purchased_phone_numbers()}

    client.begin_release_phone_number(number).result()
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_purchased_phone_number(number)
    assert caught.value.error.message == f"{number} is not a purchased phone number"
    assert number not in {n.phone_number for n in client.list_purchased_phone_numbers()}


def test_purchased_numbers_are_listed_in_pages(
    client: PhoneNumbersClient, bought: list[str]
) -> None:
    numbers = buy(client, bought, area_code="206", quantity=5)
    pages = client.list_purchased_phone_numbers(top=2).by_page()
    listed = [n.phone_number for page in pages for n in page]
    assert len(listed) == len(set(listed))
    assert set(numbers) <= set(listed)
    assert listed == sorted(listed)


def test_a_search_is_purchased_once(
    client: PhoneNumbersClient, bought: list[str]
) -> None:
    result = search(client, area_code="206")
    client.begin_purchase_phone_numbers(result.search_id).result()
    bought += result.phone_numbers
    with pytest.raises(ResourceExistsError) as caught:
        client.begin_purchase_phone_numbers(result.search_id)
    assert caught.value.status_code == 409
    assert caught.value.error.message == (
        f"search '{result.search_id}' has already been purchased"
    )


def test_two_purchases_of_one_search_race_and_one_wins(
    client: PhoneNumbersClient, bought: list[str]
) -> None:
    result = search(client, area_code="425", quantity=2)

    def attempt(_: int) -> str:
        try:
            client.begin_purchase_phone_numbers(result.search_id).result()
        except ResourceExistsError:
            return "refused"
        return "bought"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    bought += result.phone_numbers
    assert outcomes == ["bought", "refused", "refused", "refused"]
    owned = {n.phone_number for n in client.list_purchased_phone_numbers()}
    assert set(result.phone_numbers) <= owned


def test_purchase_of_an_unknown_search_is_a_404(client: PhoneNumbersClient) -> None:
    unknown = "0b9e5c1e-2f4e-4a43-9a7e-1f0f7e9f0a11"
    with pytest.raises(ResourceNotFoundError) as caught:
        client.begin_purchase_phone_numbers(unknown)
    assert caught.value.error.message == f"no search '{unknown}'"


def test_releasing_a_number_not_owned_is_a_404(client: PhoneNumbersClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        client.begin_release_phone_number("+14255550199")
    assert caught.value.error.message == "+14255550199 is not a purchased phone number"


def test_capabilities_beyond_the_offer_are_a_400(
    client: PhoneNumbersClient, bought: list[str]
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        search(client, country="GB", sms=BOTH)
    assert caught.value.status_code == 400
    assert caught.value.error.message == (
        "no geographic numbers in GB offer calling 'inbound+outbound' and sms "
        "'inbound+outbound'"
    )

    [number] = buy(client, bought, country="GB", sms=NONE)
    with pytest.raises(HttpResponseError) as caught:
        client.begin_update_phone_number_capabilities(number, sms="outbound")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidRequestBody"
    assert caught.value.error.message == (
        f"{number} offers sms 'none' at most, not 'outbound'"
    )
    with pytest.raises(HttpResponseError) as caught:
        client.begin_update_phone_number_capabilities(number, calling="sideways")
    assert caught.value.status_code == 400
    assert caught.value.error.target == "calling"
    assert client.get_purchased_phone_number(number).capabilities.sms == NONE


def test_update_of_a_number_not_owned_is_a_404(client: PhoneNumbersClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.begin_update_phone_number_capabilities("+12065550188", sms=BOTH)


# Holds that expire, stock that runs out: a node of its own with short holds.


@pytest.fixture
def short_holds(server_factory: type[RunningServer]) -> PhoneNumbersClient:
    node = server_factory.start(env={"SWITCHBOARD_NUMBERS_SEARCH_HOLD_S": "1"})
    return PhoneNumbersClient.from_connection_string(node.connection_string)


def test_an_expired_search_cannot_be_bought_and_frees_its_numbers(
    short_holds: PhoneNumbersClient,
) -> None:
    result = search(short_holds, area_code="206", quantity=2)
    time.sleep(1.2)
    with pytest.raises(HttpResponseError) as caught:
        short_holds.begin_purchase_phone_numbers(result.search_id)
    assert caught.value.status_code == 400
    assert caught.value.error.code == "SearchExpired"
    assert caught.value.error.message == (
        f"search '{result.search_id}' has expired; its numbers are no longer held"
    )
    again = search(short_holds, area_code="206", quantity=2)
    assert again.phone_numbers == result.phone_numbers


def test_out_of_stock_fails_the_search_and_races_never_share(
    server_factory: type[RunningServer],
) -> None:
    node = server_factory.start()
    client = PhoneNumbersClient.from_connection_string(node.connection_string)

    def attempt(_: int) -> list[str] | str:
        try:
            return search(client, area_code="425", quantity=40).phone_numbers
        except HttpResponseError as exc:
            return str(exc.message)

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(attempt, range(3)))
    held = [o for o in outcomes if isinstance(o, list)]
    failed = [o for o in outcomes if isinstance(o, str)]
    assert len(held) == 2 and len(failed) == 1
    assert not set(held[0]) & set(held[1])
    assert "OutOfStock" in failed[0]
