"""GSM 03.38 coding and SMS segmentation, checked by reassembling the parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.telephony import gsm
from switchboard.telephony.gsm import Coding

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The 127 characters of the default alphabet (all but the escape)."""

EXTENSION = "\x0c^{}\\[~]|€"
"""The ten characters of the extension table, each two septets."""


def reassemble(encoded: gsm.Encoded) -> str:
    """Decode every part and join them, as a handset would."""
    return "".join(gsm.decode(part, encoded.coding) for part in encoded.parts)


def limits(encoded: gsm.Encoded) -> tuple[int, int]:
    if encoded.coding is Coding.GSM7:
        return gsm.GSM7_SINGLE_PART, gsm.GSM7_MULTI_PART
    return gsm.UCS2_SINGLE_PART, gsm.UCS2_MULTI_PART


def part_units(encoded: gsm.Encoded) -> list[int]:
    width = 1 if encoded.coding is Coding.GSM7 else 2
    return [len(part) // width for part in encoded.parts]


def check_parts(text: str) -> gsm.Encoded:
    """Encode, check every invariant of the parts, and return the encoding."""
    encoded = gsm.encode(text)
    single, multi = limits(encoded)
    units = part_units(encoded)

    assert reassemble(encoded) == text
    assert "".join(encoded.texts) == text
    assert sum(units) == encoded.units
    if encoded.units <= single:
        assert encoded.segments == 1
    else:
        assert all(0 < size <= multi for size in units)
        # Greedy filling: a part ends only where the next character won't fit.
        for index, size in enumerate(units[:-1]):
            following = encoded.texts[index + 1][0]
            assert size + gsm.encode(following).units > multi
    return encoded


def test_every_basic_character_is_one_septet_and_round_trips() -> None:
    assert len(BASIC) == 127
    septets = gsm.encode_gsm7(BASIC)

    assert len(septets) == 127
    assert 0x1B not in septets
    assert sorted(septets) == [c for c in range(128) if c != 0x1B]
    assert gsm.decode_gsm7(septets) == BASIC
    assert gsm.gsm7_length(BASIC) == 127


@pytest.mark.parametrize("char", list(BASIC))
def test_each_basic_character_alone(char: str) -> None:
    encoded = gsm.encode(char)

    assert encoded.coding is Coding.GSM7
    assert len(encoded.parts[0]) == 1
    assert reassemble(encoded) == char


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\x0c", 0x0A),
        ("^", 0x14),
        ("{", 0x28),
        ("}", 0x29),
        ("\\", 0x2F),
        ("[", 0x3C),
        ("~", 0x3D),
        ("]", 0x3E),
        ("|", 0x40),
        ("€", 0x65),
    ],
)
def test_each_extension_character_is_an_escape_pair(char: str, code: int) -> None:
    encoded = gsm.encode(char)

    assert encoded.coding is Coding.GSM7
    assert encoded.parts == (bytes([0x1B, code]),)
    assert encoded.units == 2
    assert reassemble(encoded) == char


def test_known_packing_vector() -> None:
    # 3GPP TS 23.038 §6.1.2.1.1: "hellohello" packs to these nine octets.
    septets = gsm.encode_gsm7("hellohello")

    packed = gsm.pack_septets(septets)

    assert packed == bytes.fromhex("E8329BFD4697D9EC37")
    assert gsm.unpack_septets(packed, 10) == septets


def test_packing_after_a_header_with_fill_bits() -> None:
    septets = gsm.encode_gsm7(BASIC + EXTENSION)

    packed = gsm.pack_septets(septets, fill_bits=1)

    assert gsm.unpack_septets(packed, len(septets), fill_bits=1) == septets


def test_unpacking_more_septets_than_present_is_refused() -> None:
    with pytest.raises(ValueError, match="3 octets cannot hold 4 septets"):
        gsm.unpack_septets(b"\x00\x00\x00", 4)


def test_unknown_escape_gives_the_basic_character_and_lone_escape_a_space() -> None:
    assert gsm.decode_gsm7(bytes([0x1B, 0x41])) == "A"
    assert gsm.decode_gsm7(bytes([0x41, 0x1B])) == "A "


def test_octet_above_7f_is_refused() -> None:
    with pytest.raises(ValueError, match="octet 0x80 at 1 is not a septet"):
        gsm.decode_gsm7(b"A\x80")


def test_character_outside_the_alphabet_is_refused_by_encode_gsm7() -> None:
    with pytest.raises(ValueError, match="character 'ç' at 2 has no 7-bit code"):
        gsm.encode_gsm7("aaç")


@pytest.mark.parametrize(
    "text",
    ["ç", "Привет", "日本語", "a`b", "naïve", "Ŵ", "\t"],
)
def test_text_outside_the_alphabet_switches_to_ucs2(text: str) -> None:
    encoded = gsm.encode(text)

    assert encoded.coding is Coding.UCS2
    assert encoded.parts[0] == text.encode("utf-16-be")
    assert reassemble(encoded) == text


def test_emoji_is_a_surrogate_pair_of_two_units() -> None:
    encoded = gsm.encode("hi 😀")

    assert encoded.coding is Coding.UCS2
    assert encoded.units == 5
    assert encoded.parts[0][-4:] == "😀".encode("utf-16-be")
    assert reassemble(encoded) == "hi 😀"


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (153, 1), (159, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3),
     (460, 4)],
)  # fmt: skip
def test_gsm7_part_boundaries(length: int, segments: int) -> None:
    encoded = check_parts("a" * length)

    assert encoded.coding is Coding.GSM7
    assert encoded.segments == segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (67, 1), (69, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3),
     (202, 4)],
)  # fmt: skip
def test_ucs2_part_boundaries(length: int, segments: int) -> None:
    encoded = check_parts("ж" * length)

    assert encoded.coding is Coding.UCS2
    assert encoded.segments == segments


@pytest.mark.parametrize("prefix", [158, 159, 160, 151, 152, 153])
def test_an_escape_pair_is_never_split(prefix: int) -> None:
    text = "a" * prefix + "€" + "b" * 20
    encoded = check_parts(text)

    assert encoded.segments == 2
    for part in encoded.parts:
        assert part[-1] != 0x1B
        assert len(part) <= gsm.GSM7_MULTI_PART


def test_extension_pair_at_the_single_part_limit() -> None:
    # 158 + 2 = 160 septets: still one part; one more septet makes two.
    assert check_parts("a" * 158 + "€").segments == 1
    two = check_parts("a" * 159 + "€")
    assert two.segments == 2
    assert two.texts == ("a" * 153, "a" * 6 + "€")

    # The pair would straddle the 153-septet cut: it moves whole to part two.
    straddling = check_parts("a" * 152 + "€" + "a" * 10)
    assert straddling.texts[0] == "a" * 152
    assert straddling.texts[1].startswith("€")


@pytest.mark.parametrize("prefix", [65, 66, 67, 68, 69])
def test_a_surrogate_pair_is_never_split(prefix: int) -> None:
    text = "ж" * prefix + "😀" + "ж" * 10
    encoded = check_parts(text)

    for part in encoded.parts:
        last = int.from_bytes(part[-2:], "big")
        assert not 0xD800 <= last <= 0xDBFF


def test_emoji_at_the_single_part_limit() -> None:
    assert check_parts("ж" * 68 + "😀").segments == 1
    two = check_parts("ж" * 69 + "😀")
    assert two.segments == 2
    assert two.texts == ("ж" * 67, "жж😀")

    straddling = check_parts("ж" * 66 + "😀" + "ж" * 5)
    assert straddling.texts[0] == "ж" * 66


def test_split_gives_the_part_texts() -> None:
    assert gsm.split("") == [""]
    assert gsm.split("a" * 161) == ["a" * 153, "a" * 8]


def test_concatenation_header() -> None:
    assert gsm.concat_udh(0x2A, 3, 1) == bytes([5, 0, 3, 0x2A, 3, 1])
    with pytest.raises(ValueError, match=r"part 4 is not 1\.\.3"):
        gsm.concat_udh(1, 3, 4)
    with pytest.raises(ValueError, match=r"reference 256 is not 0\.\.255"):
        gsm.concat_udh(256, 3, 1)


def test_decode_by_data_coding() -> None:
    assert gsm.decode(b"abc", 1) == "abc"
    assert gsm.decode("é".encode("latin-1"), 3) == "é"
    with pytest.raises(ValueError, match="data_coding 0x04 is not supported"):
        gsm.decode(b"abc", 4)


gsm_text = st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=700)
any_text = st.text(max_size=400)


@given(gsm_text)
def test_property_gsm7_texts_reassemble(text: str) -> None:
    encoded = check_parts(text)

    assert encoded.coding is Coding.GSM7


@given(any_text)
def test_property_any_text_reassembles(text: str) -> None:
    # Hypothesis leaves out lone surrogates, which no string to send holds.
    check_parts(text)
