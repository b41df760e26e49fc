"""QC result semantics, independent of the export format: test codes, result status, result
values (numeric, qualified such as ``<0.50``, or text) and the out-of-specification decision."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

TEST_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
# Common spellings of the release tests (DOMAIN.md step 8) -> the hub's test codes.
TEST_ALIASES: dict[str, str] = {
    "CD3%": "CD3_PCT",
    "%CD3": "CD3_PCT",
    "%CD3+": "CD3_PCT",
    "CD3+": "CD3_PCT",
    "CAR%": "CAR_PCT",
    "%CAR": "CAR_PCT",
    "%CAR+": "CAR_PCT",
    "CAR+": "CAR_PCT",
    "TRANSDUCTION_EFFICIENCY": "CAR_PCT",
    "VECTOR_COPY_NUMBER": "VCN",
    "BET": "ENDOTOXIN",
    "BACTERIAL_ENDOTOXIN": "ENDOTOXIN",
    "BACTERIAL_ENDOTOXINS": "ENDOTOXIN",
    "LAL": "ENDOTOXIN",
    "MYCO": "MYCOPLASMA",
    "VIABILITY_PCT": "VIABILITY",
    "CELL_VIABILITY": "VIABILITY",
}

# LIMS result status (HL7 v2 OBX-11 letters included) -> the hub's status vocabulary.
STATUSES: dict[str, str] = {
    "PRELIMINARY": "PRELIMINARY",
    "PRELIM": "PRELIMINARY",
    "P": "PRELIMINARY",
    "ENTERED": "PRELIMINARY",
    "PENDING_REVIEW": "PRELIMINARY",
    "FINAL": "FINAL",
    "F": "FINAL",
    "APPROVED": "FINAL",
    "AUTHORISED": "FINAL",
    "AUTHORIZED": "FINAL",
    "REVIEWED": "FINAL",
    "CORRECTED": "CORRECTED",
    "AMENDED": "CORRECTED",
    "C": "CORRECTED",
    "INVALIDATED": "INVALIDATED",
    "INVALID": "INVALIDATED",
    "CANCELLED": "INVALIDATED",
    "CANCELED": "INVALIDATED",
    "W": "INVALIDATED",
    "X": "INVALIDATED",
}

FLAG_TRUE = frozenset({"true", "yes", "y", "1", "oos", "out_of_spec", "fail", "failed"})
FLAG_FALSE = frozenset({"false", "no", "n", "0", "pass", "passed", "ok", "in_spec"})

_QUALIFIED_RE = re.compile(r"^\s*(<=|>=|≤|≥|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def normalise_test_code(raw: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """The hub's test code for a LIMS test name, or None when it cannot be one. ``aliases``
    are the partner's own test names (registry ``qc_test_aliases``), before the defaults."""
    own = {_key(k): v for k, v in (aliases or {}).items()}
    code = _key(raw)
    code = _key(own[code]) if code in own else TEST_ALIASES.get(code, code)
    return code if TEST_CODE_RE.match(code) else None


def _key(name: str) -> str:
    return name.strip().upper().replace(" ", "_").replace("-", "_")


def normalise_status(raw: str) -> str | None:
    return STATUSES.get(raw.strip().upper().replace(" ", "_"))


def parse_flag(raw: str) -> bool | None:
    """A LIMS out-of-spec flag cell; None when it is neither a yes nor a no."""
    text = raw.strip().lower().replace(" ", "_").replace("-", "_")
    if text in FLAG_TRUE:
        return True
    if text in FLAG_FALSE:
        return False
    return None


def finite(text: str) -> float | None:
    """``text`` as a finite float, else None (``NaN`` and ``inf`` are text results)."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Qualified:
    """A censored result such as ``<0.50`` (below the quantitation limit) or ``>=2.0``."""

    op: str
    bound: float


def qualified(text: str) -> Qualified | None:
    match = _QUALIFIED_RE.match(text)
    if match is None:
        return None
    bound = finite(match.group(2))
    if bound is None:
        return None
    op = {"≤": "<=", "≥": ">="}.get(match.group(1), match.group(1))
    return Qualified(op, bound)


def out_of_spec(
    value: float | None, censored: Qualified | None, low: float | None, high: float | None
) -> bool | None:
    """True / False when the limits decide it, None when they cannot (no limits, a text result,
    or a censored result whose range straddles a limit). Limits are inclusive."""
    if low is None and high is None:
        return None
    if value is not None:
        return (low is not None and value < low) or (high is not None and value > high)
    if censored is None:
        return None
    x, op = censored.bound, censored.op
    if op in ("<", "<="):  # the true value lies below x
        below_low = low is not None and (x <= low if op == "<" else x < low)
        if below_low:
            return True
        return False if low is None and high is not None and x <= high else None
    above_high = high is not None and (x >= high if op == ">" else x > high)
    if above_high:
        return True
    return False if high is None and low is not None and x >= low else None
