"""Typed access to one QC result row, whatever the export format (a CSV row or a JSON object).

Values arrive as CSV cells (strings) or JSON scalars; every failure names the row (``row 3
(line 5)`` for CSV, ``result 3`` for JSON) and the canonical column, and raises a
:class:`~hub.errors.NormalisationError` with a specific code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from connectors.csvsupport import labelled_error
from connectors.lims import qc
from connectors.timestamps import BadTimestamp, instant
from hub.errors import InvalidIdentifierError, NormalisationError
from hub.events.identifiers import validate_coi


class ResultRow:
    """One result: canonical column name -> raw value, plus where it came from."""

    def __init__(
        self, values: Mapping[str, object], label: str, partner: str, message_id: str
    ) -> None:
        self.values = values
        self.label = label
        self.partner = partner
        self.message_id = message_id

    def error(self, reason: str, *, code: str, field: str | None = None) -> NormalisationError:
        return labelled_error(
            self.label,
            reason,
            partner=self.partner,
            code=code,
            field=field,
            message_id=self.message_id,
        )

    def _raw(self, name: str) -> object:
        value = self.values.get(name)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise self.error(f"'{name}' is missing", code="MISSING_FIELD", field=name)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(
                f"'{name}' must be text, got {type(value).__name__}", code="MALFORMED", field=name
            )
        return str(value)

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def number(self, name: str) -> float | None:
        value = self._raw(name)
        if value is None:
            return None
        number: float | None = None
        if isinstance(value, str):
            number = qc.finite(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = None
            if number is not None and not math.isfinite(number):
                number = None
        if number is None:
            raise self.error(
                f"'{name}' must be a finite number, got {value!r}", code="NOT_NUMERIC", field=name
            )
        return number

    def time(self, name: str) -> datetime:
        text = self.req(name)
        try:
            return instant(text)
        except BadTimestamp as exc:
            raise self.error(exc.reason(name, text), code=exc.code, field=name) from exc

    def coi(self, name: str, pattern: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return validate_coi(raw, pattern)
        except InvalidIdentifierError as exc:
            raise self.error(exc.reason, code="INVALID_IDENTIFIER", field=name) from exc

    def flag(self, name: str) -> bool | None:
        value = self._raw(name)
        if value is None or isinstance(value, bool):
            return value
        parsed = qc.parse_flag(str(value)) if isinstance(value, str | int) else None
        if parsed is None:
            raise self.error(
                f"'{name}' must be a yes/no out-of-spec flag, got {value!r}",
                code="BAD_FLAG",
                field=name,
            )
        return parsed

    def result(self) -> tuple[float | None, str | None, qc.Qualified | None]:
        """``(value, text, censored)``: a number is a value; anything else is kept as text,
        and a censored text such as ``<0.50`` also yields its bound."""
        value = self._raw("result")
        if value is None:
            raise self.error("'result' is missing", code="MISSING_FIELD", field="result")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.number("result"), None, None
        if not isinstance(value, str):
            raise self.error(
                f"'result' must be a number or text, got {type(value).__name__}",
                code="MALFORMED",
                field="result",
            )
        number = qc.finite(value)
        if number is not None:
            return number, None, None
        return None, value, qc.qualified(value)
