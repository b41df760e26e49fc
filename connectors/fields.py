"""Field-level helpers shared by connectors: typed access to parsed payloads with precise errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from connectors.timestamps import parse_timestamp
from hub.errors import InvalidIdentifierError, NormalisationError
from hub.events.identifiers import DEFAULT_COI_PATTERN, parse_din, validate_coi


def parse_json_object(payload: bytes, partner: str) -> dict[str, Any]:
    """Decode a UTF-8 JSON object, or raise a rejection saying exactly what is wrong."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NormalisationError(
            f"payload is not UTF-8 (byte {exc.start})", partner=partner, code="NOT_UTF8"
        ) from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NormalisationError(
            f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            partner=partner,
            code="NOT_JSON",
        ) from exc
    except (ValueError, RecursionError) as exc:
        # Python's own limits: integers over 4,300 digits, nesting deeper than the stack.
        raise NormalisationError(
            f"payload is JSON beyond the parser's limits: {type(exc).__name__}",
            partner=partner,
            code="NOT_JSON",
        ) from exc
    if not isinstance(value, dict):
        raise NormalisationError(
            f"payload is a JSON {type(value).__name__}, expected an object",
            partner=partner,
            code="NOT_AN_OBJECT",
        )
    return value


class Fields:
    """Read typed values out of a decoded mapping; every failure names the field and message."""

    def __init__(self, data: dict[str, Any], partner: str, message_id: str | None = None) -> None:
        self.data = data
        self.partner = partner
        self.message_id = message_id

    def _error(self, reason: str, name: str, code: str = "MALFORMED") -> NormalisationError:
        return NormalisationError(
            reason, partner=self.partner, message_id=self.message_id, field=name, code=code
        )

    def _get(self, name: str) -> Any:
        value: Any = self.data
        for part in name.split("."):
            if not isinstance(value, dict):
                raise self._error(f"'{name}' expected inside an object", name)
            value = value.get(part)
            if value is None:
                return None
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._get(name)
        if value is None or value == "":
            if required:
                raise self._error(f"required field '{name}' is missing", name, "MISSING_FIELD")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self._error(f"'{name}' must be a string, got {type(value).__name__}", name)
        return str(value)

    def req(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def flag(self, name: str) -> bool | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._error(f"'{name}' must be true or false, got {value!r}", name)
        return value

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._get(name)
        if value is None:
            if required:
                raise self._error(f"required field '{name}' is missing", name, "MISSING_FIELD")
            return None
        if isinstance(value, bool):
            raise self._error(f"'{name}' must be a number, got a boolean", name)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise self._error(f"'{name}' must be a number, got {value!r}", name) from exc
        if number != number or number in (float("inf"), float("-inf")):
            raise self._error(f"'{name}' must be a finite number, got {value!r}", name)
        return number

    def coi(
        self, name: str, *, required: bool = True, pattern: str = DEFAULT_COI_PATTERN
    ) -> str | None:
        """A COI identifier, validated (format + Mod 37-2) and normalised without ``&/``."""
        raw = self.text(name, required=required)
        if raw is None:
            return None
        try:
            return validate_coi(raw, pattern)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=self.partner, message_id=self.message_id, field=name
            ) from exc

    def din(
        self, name: str, *, check_field: str | None = None, required: bool = False
    ) -> str | None:
        """An ISBT 128 DIN normalised to ``=`` + 13 characters + 2 flags; when ``check_field``
        holds the label's check character it must match Mod 37-2."""
        raw = self.text(name, required=required)
        if raw is None:
            return None
        check = self.text(check_field, required=False) if check_field else None
        try:
            din = parse_din(raw, check)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=self.partner, message_id=self.message_id, field=name
            ) from exc
        return f"={din.core}{din.flags or '00'}"

    def time(self, name: str, *, required: bool = True) -> datetime | None:
        text = self.text(name, required=required)
        if text is None:
            return None
        return parse_timestamp(text, name, self.partner, self.message_id)

    def req_time(self, name: str) -> datetime:
        value = self.time(name)
        assert value is not None
        return value
