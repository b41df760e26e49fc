"""FHIR's reading of the shared JSON reader: errors never quote the offending value.

A FHIR payload carries patient identity, so an error names the JSON path and what was expected
(``entry[2].resource.performedDateTime has no time zone offset``), never the value itself. The
connector additionally scrubs every rejection against the message's patient data
(``privacy.py``), but this module does not rely on that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.jsonreader import JsonReader, join
from connectors.timestamps import parse_timestamp
from hub.errors import TimezoneMissingError

_DATE_ONLY = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Ident:
    """One FHIR Identifier: system (may be None), value, and its type codes."""

    system: str | None
    value: str
    type_codes: tuple[tuple[str | None, str], ...]
    path: str


class Reader(JsonReader):
    """:class:`~connectors.jsonreader.JsonReader` that never quotes a value, with FHIR's own
    date-times, codings and identifiers."""

    def __init__(self, partner: str, message_id: str | None = None) -> None:
        super().__init__(partner, message_id, quote_values=False)

    def time(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> datetime | None:
        """A FHIR dateTime/instant that must name an instant: a date alone, or a time without
        offset, is TIMEZONE_MISSING (the hub never guesses a time zone)."""
        text = self.text(parent, key, path, required=required)
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
