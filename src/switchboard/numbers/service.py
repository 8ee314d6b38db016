"""Phone numbers: the inventory's offers, searches that hold numbers, purchases.

Every operation the API calls long-running is finished before its 202 is
answered, in one transaction with the record of the operation, so a client's
first poll already sees the outcome and a crash never leaves one half done.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from switchboard.config import NumberSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError, ErrorCode, bad_request, not_found
from switchboard.numbers.directory import OwnedNumber
from switchboard.numbers.inventory import (
    AssignmentType,
    Inventory,
    Offering,
    allows,
    block_numbers,
    country_name,
)
from switchboard.numbers.store import (
    HELD,
    NumberStore,
    Operation,
    PurchasedNumber,
    PurchaseOutcome,
    Search,
)
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.base import NumberBlock, NumberType

log = logging.getLogger(__name__)

Capability = Literal["none", "inbound", "outbound", "inbound+outbound"]

MAX_QUANTITY = 100
"""The most numbers one search may hold."""

SPARE_CANDIDATES = 64
"""Free-looking numbers a search tries beyond its quantity, for lost races."""

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class OperationKind(StrEnum):
    """`operationType` of a phone number operation."""

    SEARCH = "search"
    PURCHASE = "purchase"
    RELEASE = "releasePhoneNumber"
    CAPABILITIES = "updatePhoneNumberCapabilities"


class OperationStatus(StrEnum):
    """`status` of a phone number operation; ours never stay running."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CapabilitiesBody(BaseModel):
    """Both capabilities, as a search asks for them."""

    model_config = ConfigDict(extra="ignore")

    calling: Capability
    sms: Capability


class SearchBody(BaseModel):
    """The body of `POST /availablePhoneNumbers/countries/{cc}/:search`."""

    model_config = ConfigDict(extra="ignore")

    phoneNumberType: NumberType
    assignmentType: AssignmentType
    capabilities: CapabilitiesBody
    areaCode: StrictStr | None = Field(None, max_length=8)
    quantity: int | None = Field(None, ge=1, le=MAX_QUANTITY)


class PurchaseBody(BaseModel):
    """The body of `POST /availablePhoneNumbers/:purchase`."""

    model_config = ConfigDict(extra="ignore")

    searchId: StrictStr | None = None
    agreeToNotResell: bool | None = None


class CapabilitiesUpdate(BaseModel):
    """The body of `PATCH /phoneNumbers/{number}/capabilities`: either or both."""

    model_config = ConfigDict(extra="ignore")

    calling: Capability | None = None
    sms: Capability | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A long-running operation, done, and the id of what it acted on."""

    operation: Operation
    resource: str


def _new_operation(
    kind: OperationKind, prefix: str, resource: str, now: float
) -> Operation:
    return Operation(
        id=f"{prefix}_{resource}",
        kind=kind,
        status=OperationStatus.SUCCEEDED,
        resource=resource,
        created_at=now,
        updated_at=now,
    )


def check_number(number: str) -> str:
    """`number` when it is E.164, else a 400."""
    if not _E164.match(number):
        raise bad_request(
            f"{number!r} is not a phone number in E.164 form, e.g. +14255550123",
            target="phoneNumber",
        )
    return number


class NumberService:
    """The phone numbers API's logic, and the directory of owned numbers."""

    def __init__(
        self,
        db: Database,
        inventory: Inventory,
        settings: NumberSettings,
        clock: Clock,
    ) -> None:
        self._store = NumberStore(db)
        self.inventory = inventory
        self.settings = settings
        self._clock = clock

    # The offers.

    def _country(self, country: str) -> str:
        if country not in self.inventory.countries():
            raise bad_request(
                f"no phone numbers are offered in country {country!r}",
                target="countryCode",
            )
        return country

    def countries(self, language: str) -> list[tuple[str, str]]:
        """(code, localized name) of every country with numbers on offer."""
        return [(c, country_name(c, language)) for c in self.inventory.countries()]

    def localities(self, country: str, number_type: NumberType | None) -> list[str]:
        """Localities of a country's number blocks."""
        return self.inventory.localities(self._country(country), number_type)

    def area_codes(
        self, country: str, number_type: NumberType, locality: str | None
    ) -> list[str]:
        """Area codes of a country's blocks of one type."""
        return self.inventory.area_codes(self._country(country), number_type, locality)

    def offerings(
        self,
        country: str,
        number_type: NumberType | None,
        assignment: AssignmentType | None,
    ) -> list[Offering]:
        """What kinds of numbers a country offers, at what monthly cost."""
        return self.inventory.offerings(self._country(country), number_type, assignment)

    # Searches and purchases.

    async def search(self, country: str, body: SearchBody) -> Accepted:
        """Hold numbers for a later purchase; the operation fails when out of stock."""
        blocks = self.inventory.matching(
            self._country(country),
            body.phoneNumberType,
            body.capabilities.calling,
            body.capabilities.sms,
            body.areaCode or "",
        )
        if not blocks:
            raise bad_request(
                f"no {body.phoneNumberType} numbers in {country} offer calling "
                f"{body.capabilities.calling!r} and sms {body.capabilities.sms!r}"
                + (f" in area code {body.areaCode}" if body.areaCode else ""),
                target="capabilities",
            )

        now = self._clock()
        await self._store.prune(now - self.settings.operation_retention_s)
        search_id = str(uuid.uuid4())
        operation = _new_operation(OperationKind.SEARCH, "search", search_id, now)
        wanted = Search(
            id=search_id,
            country=country,
            number_type=body.phoneNumberType,
            assignment_type=body.assignmentType,
            calling=body.capabilities.calling,
            sms=body.capabilities.sms,
            area_code=body.areaCode or "",
            quantity=body.quantity or 1,
            numbers=[],
            cost=0.0,
            currency="USD",
            state=HELD,
            created_at=now,
            expires_at=now + self.settings.search_hold_s,
        )
        candidates = await self._candidates(blocks, wanted.quantity, now)
        held = await self._store.create_search(wanted, candidates, operation)
        if held is None:
            failed = replace(
                operation,
                status=OperationStatus.FAILED,
                error_code="OutOfStock",
                error_message=f"fewer than {wanted.quantity} numbers of this kind "
                "are available",
            )
            await self._store.add_operation(failed)
            log.info("search %s: out of stock in %s", search_id, country)
            return Accepted(failed, search_id)
        log.info("search %s holds %d numbers", search_id, len(held.numbers))
        return Accepted(operation, search_id)

    async def _candidates(
        self, blocks: list[NumberBlock], quantity: int, now: float
    ) -> list[tuple[str, NumberBlock]]:
        """Numbers that looked free just now, in block order, with some to spare.

        The spares cover numbers that a concurrent search claims first.
        """
        found: list[tuple[str, NumberBlock]] = []
        for block in blocks:
            if len(found) >= quantity + SPARE_CANDIDATES:
                break
            numbers = list(block_numbers(block))
            taken = await self._store.taken(numbers[0], numbers[-1], now)
            found += [(n, block) for n in numbers if n not in taken]
        return found

    async def search_result(self, search_id: str) -> Search:
        """A search's result, or a 404."""
        found = await self._store.search(search_id)
        if found is None:
            raise not_found(f"no search {search_id!r}", target="searchId")
        return found

    async def purchase(self, body: PurchaseBody) -> Accepted:
        """Buy every number a live search holds; a search is bought once."""
        if not body.searchId:
            raise bad_request(
                "searchId is required",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="searchId",
            )
        search_id = body.searchId
        now = self._clock()
        purchase_id = str(uuid.uuid4())
        operation = _new_operation(OperationKind.PURCHASE, "purchase", purchase_id, now)
        outcome = await self._store.purchase(search_id, now, operation)
        if outcome is PurchaseOutcome.NOT_FOUND:
            raise not_found(f"no search {search_id!r}", target="searchId")
        if outcome is PurchaseOutcome.ALREADY_PURCHASED:
            raise AcsError(
                409,
                ErrorCode.CONFLICT,
                f"search {search_id!r} has already been purchased",
                "searchId",
            )
        if outcome is PurchaseOutcome.EXPIRED:
            raise bad_request(
                f"search {search_id!r} has expired; its numbers are no longer held",
                code="SearchExpired",
                target="searchId",
            )
        log.info("search %s purchased (purchase %s)", search_id, purchase_id)
        return Accepted(operation, purchase_id)

    # Owned numbers.

    async def get(self, number: str) -> PurchasedNumber:
        """An owned number, or a 404."""
        found = await self._store.owned(check_number(number))
        if found is None:
            raise not_found(
                f"{number} is not a purchased phone number", target="phoneNumber"
            )
        return found

    async def page(self, skip: int, top: int) -> list[PurchasedNumber]:
        """Owned numbers in order; `top` of them after the first `skip`."""
        return await self._store.owned_page(skip, top)

    async def update_capabilities(
        self, number: str, body: CapabilitiesUpdate
    ) -> Accepted:
        """Change what an owned number may do, within what its carrier offers."""
        if body.calling is None and body.sms is None:
            raise bad_request(
                "give calling, sms or both",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="capabilities",
            )
        current = await self.get(number)
        calling = body.calling or current.calling
        sms = body.sms or current.sms
        for kind, wanted, offered in (
            ("calling", calling, current.offered_calling),
            ("sms", sms, current.offered_sms),
        ):
            if not allows(offered, wanted):
                raise bad_request(
                    f"{number} offers {kind} {offered!r} at most, not {wanted!r}",
                    code=ErrorCode.INVALID_REQUEST_BODY,
                    target=kind,
                )

        now = self._clock()
        update_id = str(uuid.uuid4())
        operation = _new_operation(
            OperationKind.CAPABILITIES, "capabilities", update_id, now
        )
        if not await self._store.update_capabilities(number, calling, sms, operation):
            raise not_found(
                f"{number} is not a purchased phone number", target="phoneNumber"
            )
        log.info("number %s: calling %s, sms %s", number, calling, sms)
        return Accepted(operation, update_id)

    async def release(self, number: str) -> Accepted:
        """Give an owned number back to the inventory."""
        check_number(number)
        now = self._clock()
        release_id = str(uuid.uuid4())
        operation = _new_operation(OperationKind.RELEASE, "release", release_id, now)
        if not await self._store.release(number, operation):
            raise not_found(
                f"{number} is not a purchased phone number", target="phoneNumber"
            )
        log.info("number %s released (release %s)", number, release_id)
        return Accepted(operation, release_id)

    # Operations.

    async def operation(self, operation_id: str) -> Operation:
        """An operation, or a 404."""
        found = await self._store.operation(operation_id)
        if found is None:
            raise not_found(f"no operation {operation_id!r}", target="operationId")
        return found

    async def delete_operation(self, operation_id: str) -> None:
        """Forget an operation; its effect, already complete, stays."""
        if not await self._store.delete_operation(operation_id):
            raise not_found(f"no operation {operation_id!r}", target="operationId")

    # NumberDirectory.

    async def owned(self, number: str) -> OwnedNumber | None:
        """The purchased number with its carrier, or None."""
        found = await self._store.owned(number)
        if found is None:
            return None
        return OwnedNumber(found.number, found.carrier, found.sms, found.calling)
