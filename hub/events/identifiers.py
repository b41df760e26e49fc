"""ISBT 128 identifiers: DIN (Data Structure 001) and the Chain of Identity identifier
(Data Structure 040), with ISO/IEC 7064 Mod 37-2 check characters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.errors import InvalidIdentifierError

_MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_DIN_RE = re.compile(r"^=?([A-Z][A-Z0-9]{4})(\d{2})(\d{6})([0-9A-Z]{2})?$")
# The COI layout is licensed (ST-028); the default is 15 characters A-Z/0-9 after "&/",
# and a deployment can configure another pattern.
DEFAULT_COI_PATTERN = r"^[A-Z0-9]{15}$"


def mod37_2(chars: str) -> str:
    """ISO/IEC 7064 Mod 37-2 check character over ``chars`` (0-9, A-Z)."""
    total = 0
    for ch in chars:
        value = _MOD37_ALPHABET.find(ch)
        if value < 0 or value > 35:
            raise InvalidIdentifierError(f"character {ch!r} not allowed in an ISBT 128 identifier")
        total = ((total + value) * 2) % 37
    return _MOD37_ALPHABET[(38 - total) % 37]


@dataclass(frozen=True)
class Din:
    fin: str
    year: str
    sequence: str
    flags: str | None

    @property
    def core(self) -> str:
        """The 13 characters the check character is computed over."""
        return f"{self.fin}{self.year}{self.sequence}"

    @property
    def check(self) -> str:
        return mod37_2(self.core)


def parse_din(text: str, check: str | None = None) -> Din:
    """Parse a DIN (``=A99991712345600``); validate ``check`` when the label's check is known."""
    cleaned = text.strip().upper()
    match = _DIN_RE.match(cleaned)
    if match is None:
        raise InvalidIdentifierError(
            f"DIN {text!r} is not '=' + FIN (letter + 4 alphanumerics) + 2-digit year "
            "+ 6-digit sequence [+ 2 flag characters]",
            field="din",
        )
    din = Din(*match.groups())
    if check is not None and check.strip().upper() != din.check:
        raise InvalidIdentifierError(
            f"DIN {text!r}: check character {check!r} does not match Mod 37-2 {din.check!r}",
            field="din",
        )
    return din


def validate_coi(text: str, pattern: str = DEFAULT_COI_PATTERN) -> str:
    """Validate a COI identifier ``<15 chars><check>`` (``&/`` prefix optional) and return it
    normalised without prefix; the last character is the Mod 37-2 check over the rest."""
    cleaned = text.strip().upper().removeprefix("&/")
    body, check = cleaned[:-1], cleaned[-1:]
    if not re.match(pattern, body):
        raise InvalidIdentifierError(
            f"COI {text!r} does not match the configured format", field="coi_id"
        )
    if mod37_2(body) != check:
        raise InvalidIdentifierError(
            f"COI {text!r}: check character {check!r} does not match Mod 37-2 {mod37_2(body)!r}",
            field="coi_id",
        )
    return cleaned
