"""Path-aware, typed access to decoded FHIR JSON whose errors never quote the offending value.

A FHIR payload carries patient identity, so an error names the JSON path and what was expected
(``entry[2].resource.performedDateTime has no time zone offset``), never the value itself. The
connector additionally scrubs every rejection against the message's patient data
(``privacy.py``), but this module does not rely on that.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.fields import parse_json_object
from connectors.timestamps import parse_timestamp
from hub.errors import NormalisationError, TimezoneMissingError

_DATE_ONLY = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def load_document(payload: bytes, partner: str) -> dict[str, Any]:
    """Decode one JSON object; nesting or numbers beyond what Python decodes are rejections."""
    try:
        return parse_json_object(payload, partner)
    except (RecursionError, ValueError) as exc:
        raise NormalisationError(
            f"payload cannot be decoded as JSON ({type(exc).__name__})",
            partner=partner,
            code="NOT_JSON",
        ) from exc


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Ident:
    """One FHIR Identifier: system (may be None), value, and its type codes."""

    system: str | None
    value: str
    type_codes: tuple[tuple[str | None, str], ...]
    path: str


class Reader:
    """Typed getters over FHIR JSON; every error carries the path and ``message_id``."""

    def __init__(self, partner: str, message_id: str | None = None) -> None:
        self.partner = partner
        self.message_id = message_id

    def error(self, reason: str, path: str, code: str = "MALFORMED") -> NormalisationError:
        return NormalisationError(
            reason, partner=self.partner, message_id=self.message_id, field=path, code=code
        )

    def missing(self, path: str) -> NormalisationError:
        return self.error(f"required field '{path}' is missing", path, "MISSING_FIELD")

    def _typed(self, value: Any, kind: type | tuple[type, ...], name: str, where: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(f"'{where}' must be {name}, got {type(value).__name__}", where)
        return value

    def obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        result: dict[str, Any] = self._typed(value, dict, "an object", join(path, key))
        return result

    def objects(self, parent: dict[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        """An optional array of objects, each with its path."""
        where = join(path, key)
        value = parent.get(key)
        if value is None:
            return []
        self._typed(value, list, "an array", where)
        return [
            (join(where, i), self._typed(item, dict, "an object", join(where, i)))
            for i, item in enumerate(value)
        ]

    def text(self, parent: dict[str, Any], key: str, path: str) -> str | None:
        value = parent.get(key)
        if value is None or value == "":
            return None
        result: str = self._typed(value, str, "a string", join(path, key))
        return result

    def req(self, parent: dict[str, Any], key: str, path: str) -> str:
        value = self.text(parent, key, path)
        if value is None:
            raise self.missing(join(path, key))
        return value

    def number(self, parent: dict[str, Any], key: str, path: str) -> float | None:
        where = join(path, key)
        value = parent.get(key)
        if value is None:
            return None
        self._typed(value, (int, float), "a number", where)
        try:
            number = float(value)
        except OverflowError as exc:
            raise self.error(f"'{where}' is too large for a number", where) from exc
        if not math.isfinite(number):
            raise self.error(f"'{where}' must be a finite number", where)
        return number

    def time(self, parent: dict[str, Any], key: str, path: str) -> datetime | None:
        """A FHIR dateTime/instant that must name an instant: a date alone, or a time without
        offset, is TIMEZONE_MISSING (the hub never guesses a time zone)."""
        text = self.text(parent, key, path)
        if text is None:
            return None
        where = join(path, key)
        if _DATE_ONLY.match(text.strip()):
            raise TimezoneMissingError(
                f"'{where}' is a date without a time of day and UTC offset",
                partner=self.partner,
                message_id=self.message_id,
                field=where,
            )
        return parse_timestamp(text, where, self.partner, self.message_id, quote=False)

    def codings(self, concept: dict[str, Any] | None, path: str) -> list[tuple[str | None, str]]:
        """(system, code) of a CodeableConcept's codings that have a code."""
        if concept is None:
            return []
        out: list[tuple[str | None, str]] = []
        for coding_path, coding in self.objects(concept, "coding", path):
            code = self.text(coding, "code", coding_path)
            if code is not None:
                out.append((self.text(coding, "system", coding_path), code))
        return out

    def identifiers(self, parent: dict[str, Any], key: str, path: str) -> list[Ident]:
        """Identifiers with a value (an array, or one Identifier object as in R5
        ``biologicalSourceEvent``)."""
        value = parent.get(key)
        items = (
            [(join(path, key), value)]
            if isinstance(value, dict)
            else self.objects(parent, key, path)
        )
        out: list[Ident] = []
        for item_path, item in items:
            found = self.text(item, "value", item_path)
            if found is None:
                continue
            kind = self.obj(item, "type", item_path)
            out.append(
                Ident(
                    system=self.text(item, "system", item_path),
                    value=found,
                    type_codes=tuple(self.codings(kind, join(item_path, "type"))),
                    path=join(item_path, "value"),
                )
            )
        return out
