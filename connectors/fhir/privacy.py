"""Patient-data protection for the FHIR connector (DESIGN.md invariant 5).

The guarantee has four layers:

0. at ingress: ``FhirConnector.prepare_raw`` (``prepare.py``) pseudonymises the message before
   its first write to Kafka, and ``normalise`` reads that pseudonymised copy too (so the raw and
   dead-letter topics hold what the events were made from, and nothing more);
1. by construction: no field of a Patient resource, no reference ``display`` and no patient
   reference or identifier is ever copied into an event; patients appear only as
   ``pseudonymise(key, system, value)`` of their MRN;
2. the guard: before events leave the connector, every string they carry is checked against the
   patient tokens (every string of every Patient / RelatedPerson / Person resource, also one
   without ``resourceType``, every HumanName, and the identifier and display of every patient
   reference, plus other renderings of them) of the copy they were made from, and against the
   ``<redacted>`` marker that ingress left where such a token stood; a hit rejects the whole
   message (``PII_GUARD``) without saying what matched;
3. rejections: reasons are written without quoting values, and are scrubbed against the tokens
   of the message as received, so not even a COI field holding an MRN by mistake is echoed.
"""

from __future__ import annotations

import re
from typing import Any

from hub.errors import NormalisationError
from hub.events.models import Event

REDACTED = "<redacted>"
MIN_TOKEN = 3  # shorter strings (sex codes, initials) identify nobody and match everything
_SUBSTRING_TOKEN = 6  # long enough to scrub wherever it occurs, not only as a whole word
# Keys of a Patient resource whose strings are codes, URLs or record metadata, not identity. Its
# logical ``id`` is no identity value either: other resources of the message may share it (a
# Procedure "example" beside Patient "example"), and ingress replaces it wherever it names the
# patient (references, fullUrl, request and search URLs).
_SAFE_KEYS = frozenset(
    {"resourceType", "id", "system", "use", "code", "gender", "url", "status", "language", "meta"}
)
# Resources about a person: all their strings are identity (RelatedPerson: the family).
_PERSON_TYPES = frozenset({"Patient", "RelatedPerson", "Person"})
_NAME_KEYS = ("family", "given", "text", "prefix", "suffix")
# Reference keys whose identifier and display are assumed to be a patient's.
PATIENT_REF_KEYS = frozenset({"subject", "patient", "source", "beneficiary", "individual"})
_PATIENT_REF = re.compile(r"(?:^|/)Patient[/?]")
# What ingress leaves in place of identity: pseudonyms and pseudonymous logical ids identify
# nobody (without the clinic's key), so they are never tokens.
PSEUDONYMOUS = re.compile(r"(?:pt|pid)-[0-9a-f]{24}")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def sensitive_tokens(doc: Any) -> frozenset[str]:
    """Every string in the message that could identify a patient (never raises)."""
    tokens: set[str] = set()
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        value, key = stack.pop()
        if isinstance(value, list):
            stack.extend((item, key) for item in value)
        elif isinstance(value, dict):
            if is_person(value):
                _strings(value, tokens)
            elif "family" in value or "given" in value:  # a HumanName anywhere
                _strings({k: value.get(k) for k in _NAME_KEYS}, tokens)
            elif _is_patient_reference(value, key):
                ident = value.get("identifier")
                _strings({"identifier": ident, "display": value.get("display")}, tokens)
            stack.extend((item, str(k)) for k, item in value.items())
    tokens.discard(REDACTED)
    tokens -= {t for t in tokens if PSEUDONYMOUS.fullmatch(t)}
    return frozenset(t for t in tokens | _renderings(tokens) if len(t) >= MIN_TOKEN)


def _renderings(tokens: set[str]) -> set[str]:
    """Other spellings of the same value: a date as 19610412, 12.04.1961, 04/12/1961 and
    12/04/1961; anything with digits without its separators (+1-617-555-0147 -> 16175550147)."""
    out: set[str] = set()
    for token in tokens:
        if date := _ISO_DATE.fullmatch(token):
            year, month, day = date.groups()
            out |= {f"{year}{month}{day}", f"{day}.{month}.{year}", f"{month}/{day}/{year}"}
            out.add(f"{day}/{month}/{year}")
        compact = _NOT_ALNUM.sub("", token)
        if any(c.isdigit() for c in token) and len(compact) >= _SUBSTRING_TOKEN:
            out.add(compact)
    return out


def is_person(value: dict[Any, Any]) -> bool:
    """A Patient (or RelatedPerson / Person), also one that lost its resourceType."""
    kind = value.get("resourceType")
    if isinstance(kind, str) and kind in _PERSON_TYPES:
        return True
    names = value.get("name")
    human = isinstance(names, list) and any(
        isinstance(n, dict) and ("family" in n or "given" in n) for n in names
    )
    return kind is None and ("birthDate" in value or human)


def _is_patient_reference(value: dict[Any, Any], key: str) -> bool:
    reference = value.get("reference")
    return (
        value.get("type") == "Patient"
        or (isinstance(reference, str) and _PATIENT_REF.search(reference) is not None)
        or (key in PATIENT_REF_KEYS and ("identifier" in value or "display" in value))
    )


def _strings(value: Any, out: set[str]) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.add(item.strip())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in item.items() if k not in _SAFE_KEYS)


class Redactor:
    """Finds and removes one message's patient tokens."""

    def __init__(self, tokens: frozenset[str] | set[str]) -> None:
        ordered = sorted(tokens, key=lambda t: (-len(t), t))
        words = [re.escape(t) for t in ordered]
        self._word = (
            re.compile(rf"(?<![0-9A-Za-z])(?:{'|'.join(words)})(?![0-9A-Za-z])", re.IGNORECASE)
            if words
            else None
        )
        short = [re.escape(t) for t in ordered if len(t) < _SUBSTRING_TOKEN]
        long = [re.escape(t) for t in ordered if len(t) >= _SUBSTRING_TOKEN]
        parts = long + ([rf"(?<![0-9A-Za-z])(?:{'|'.join(short)})(?![0-9A-Za-z])"] if short else [])
        self._scrub = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def scrub_words(self, text: str) -> str:
        """``text`` with every patient token that stands as a whole word replaced: for data
        (a digit MRN inside a longer code or number is that code, not the MRN)."""
        return self._word.sub(REDACTED, text) if self._word is not None else text

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every patient token replaced (long tokens even inside words)."""
        if text is None or self._scrub is None:
            return text
        return self._scrub.sub(REDACTED, text)

    def error(self, exc: NormalisationError) -> NormalisationError:
        """The same rejection with reason, message id and field scrubbed."""
        clean = NormalisationError(
            self.scrub(exc.reason) or "",
            partner=exc.partner,
            message_id=self.scrub(exc.message_id),
            field=self.scrub(exc.field),
            code=exc.code,
        )
        return clean

    def guard(self, events: list[Event], partner: str, message_id: str | None) -> None:
        """Reject the message if any event carries a patient token as a whole word."""
        if self._word is None:
            return
        for i, event in enumerate(events):
            for where, text in _strings_of(event.model_dump(mode="json"), f"events[{i}]"):
                if self._word.search(text):
                    raise NormalisationError(
                        "an event would carry a value of the patient's identity (identifier, "
                        "name, birth date, address or contact); the message is not forwarded",
                        partner=partner,
                        message_id=self.scrub(message_id),
                        field=where,
                        code="PII_GUARD",
                    )


def _strings_of(value: Any, path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            out.append((where, item))
        elif isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{n}]") for n, v in enumerate(item))
    return out
