"""ISBT 128 identifiers and pseudonyms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import InvalidIdentifierError
from hub.events.identifiers import _MOD37_ALPHABET, mod37_2, parse_din, validate_coi
from hub.events.ids import event_id
from hub.events.pseudonym import pseudonymise

ISBT_CHARS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=20)


@given(ISBT_CHARS)
@pytest.mark.req("REQ-ALCOA-ACCURATE")
def test_mod37_2_satisfies_the_iso_7064_pure_system_equation(body: str) -> None:
    # ISO/IEC 7064 MOD 37-2: sum(value_i * 2^(n-i)) over body + check is congruent to 1 mod 37.
    full = body + mod37_2(body)
    n = len(full)
    total = sum(_MOD37_ALPHABET.index(ch) * pow(2, n - 1 - i, 37) for i, ch in enumerate(full))
    assert total % 37 == 1


@given(
    ISBT_CHARS, st.integers(min_value=0), st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
)
@pytest.mark.req("REQ-ALCOA-ACCURATE", "REQ-EXC-INVALID_IDENTIFIER")
def test_mod37_2_catches_every_single_character_substitution(body, pos, other) -> None:
    pos %= len(body)
    if body[pos] == other:
        return
    changed = body[:pos] + other + body[pos + 1 :]
    assert mod37_2(changed) != mod37_2(body)


@pytest.mark.req("REQ-ALCOA-ACCURATE", "REQ-EXC-INVALID_IDENTIFIER")
def test_din_parses_and_validates_its_check_character() -> None:
    din = parse_din("=A99991712345600")
    assert (din.fin, din.year, din.sequence, din.flags) == ("A9999", "17", "123456", "00")
    assert parse_din("=A99991712345600", check=din.check) == din
    wrong = "0" if din.check != "0" else "1"
    with pytest.raises(InvalidIdentifierError, match="does not match Mod 37-2"):
        parse_din("=A99991712345600", check=wrong)


@pytest.mark.parametrize(
    "bad", ["", "=", "=19999171234560", "=A9999X712345600", "A999", "=A99991712345"]
)
@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_malformed_din_is_an_invalid_identifier(bad) -> None:
    with pytest.raises(InvalidIdentifierError):
        parse_din(bad)


@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_coi_validation_accepts_prefix_and_rejects_bad_check() -> None:
    body = "V2VSAMPLE000001"
    good = body + mod37_2(body)
    assert validate_coi(good) == good
    assert validate_coi("&/" + good.lower()) == good
    with pytest.raises(InvalidIdentifierError, match="check character"):
        validate_coi(body + ("A" if good[-1] != "A" else "B"))
    with pytest.raises(InvalidIdentifierError, match="format"):
        validate_coi("SHORT1")


@pytest.mark.req("REQ-INV-05")
def test_pseudonyms_are_stable_keyed_and_normalised() -> None:
    key = b"clinic-secret"
    a = pseudonymise(key, "urn:oid:1.2.3", "mrn-00123")
    assert a == pseudonymise(key, " URN:OID:1.2.3 ", "MRN-00123 ")
    assert a != pseudonymise(b"other-key", "urn:oid:1.2.3", "mrn-00123")
    assert a != pseudonymise(key, "urn:oid:1.2.4", "mrn-00123")
    assert a.startswith("pt-")
    assert "00123" not in a


@pytest.mark.req("REQ-INV-06")
def test_event_ids_are_deterministic_and_distinct() -> None:
    assert event_id("courier", "M1", 0) == event_id("courier", "M1", 0)
    assert (
        len({event_id("courier", "M1", 0), event_id("courier", "M1", 1), event_id("sap", "M1", 0)})
        == 3
    )
