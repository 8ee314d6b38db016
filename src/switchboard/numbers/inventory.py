"""The number inventory: what the carriers' number blocks offer, in memory.

Every node builds the same inventory from the same configuration, so it needs
no storage; which of its numbers are taken is recorded in the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import geocoder

from switchboard.telephony.carriers.base import Carrier, NumberBlock, NumberType


class AssignmentType(StrEnum):
    """Who a number is for, as the ACS phone numbers API names it."""

    PERSON = "person"
    APPLICATION = "application"


CAPABILITIES = ("none", "inbound", "outbound", "inbound+outbound")
"""The capability values ACS allows for `calling` and `sms`."""

_DIRECTIONS = {
    "none": frozenset[str](),
    "inbound": frozenset({"inbound"}),
    "outbound": frozenset({"outbound"}),
    "inbound+outbound": frozenset({"inbound", "outbound"}),
}


def allows(offered: str, wanted: str) -> bool:
    """Whether a number offering `offered` can be given capability `wanted`."""
    return _DIRECTIONS[wanted] <= _DIRECTIONS.get(offered, frozenset())


def country_name(country: str, language: str = "en") -> str:
    """The country's name in `language` (English when unknown), else its code."""
    example = phonenumbers.example_number(country)
    if example is None:
        return country
    name: str = geocoder.country_name_for_number(example, language)
    if not name and language != "en":
        name = geocoder.country_name_for_number(example, "en")
    return name or country


@dataclass(frozen=True, slots=True)
class Offering:
    """One kind of number a country offers: type, assignment, capabilities, cost."""

    number_type: NumberType
    assignment_type: AssignmentType
    calling: str
    sms: str
    monthly_cost: float
    currency: str


def block_numbers(block: NumberBlock) -> Iterator[str]:
    """Every number of a block in E.164, in order."""
    digits = block.first.removeprefix("+")
    start = int(digits)
    for offset in range(block.count):
        yield "+" + str(start + offset).zfill(len(digits))


def validate_block(block: NumberBlock) -> None:
    """Raise ValueError when a carrier's block cannot be offered as configured."""
    digits = block.first.removeprefix("+")
    if not block.first.startswith("+") or not digits.isdigit():
        raise ValueError(f"number block {block.first!r}: not an E.164 number")
    last = str(int(digits) + block.count - 1)
    if block.count < 1 or len(last) > len(digits) or len(digits) > 15:
        raise ValueError(f"number block {block.first!r}: bad count {block.count}")
    for value in (block.sms, block.calling):
        if value not in CAPABILITIES:
            raise ValueError(f"number block {block.first!r}: capability {value!r}")


class Inventory:
    """The blocks of every carrier, with the queries the numbers API answers."""

    def __init__(self, blocks: Iterable[NumberBlock]) -> None:
        self.blocks = list(blocks)
        for block in self.blocks:
            validate_block(block)

    @classmethod
    def of_carriers(cls, carriers: Iterable[Carrier]) -> Inventory:
        """The inventory of all the given carriers' blocks."""
        return cls(block for carrier in carriers for block in carrier.number_blocks())

    def countries(self) -> list[str]:
        """Country codes with at least one block, sorted."""
        return sorted({b.country for b in self.blocks})

    def in_country(
        self, country: str, number_type: str | None = None
    ) -> list[NumberBlock]:
        """The blocks of a country, optionally of one type."""
        return [
            b
            for b in self.blocks
            if b.country == country
            and (number_type is None or b.number_type == number_type)
        ]

    def localities(self, country: str, number_type: str | None) -> list[str]:
        """Named localities of a country's blocks, sorted."""
        found = {b.locality for b in self.in_country(country, number_type)}
        return sorted(found - {""})

    def area_codes(
        self, country: str, number_type: str, locality: str | None
    ) -> list[str]:
        """Area codes of a country's blocks of a type, optionally in a locality."""
        found = {
            b.area_code
            for b in self.in_country(country, number_type)
            if locality is None or b.locality.lower() == locality.lower()
        }
        return sorted(found - {""})

    def offerings(
        self, country: str, number_type: str | None, assignment: str | None
    ) -> list[Offering]:
        """Distinct offerings of a country; a block is offered for both assignments."""
        found: dict[tuple[str, ...], Offering] = {}
        for block in self.in_country(country, number_type):
            for kind in AssignmentType:
                if assignment is not None and kind != assignment:
                    continue
                offering = Offering(
                    block.number_type,
                    kind,
                    block.calling,
                    block.sms,
                    block.monthly_cost,
                    block.currency,
                )
                key = (block.number_type, kind, block.calling, block.sms)
                found.setdefault(key, offering)
        return sorted(
            found.values(),
            key=lambda o: (o.number_type, o.assignment_type, o.calling, o.sms),
        )

    def matching(
        self, country: str, number_type: str, calling: str, sms: str, area_code: str
    ) -> list[NumberBlock]:
        """Blocks that can supply numbers with these capabilities, cheapest first."""
        blocks = [
            b
            for b in self.in_country(country, number_type)
            if allows(b.calling, calling)
            and allows(b.sms, sms)
            and (not area_code or b.area_code == area_code)
        ]
        return sorted(blocks, key=lambda b: (b.monthly_cost, b.first))
