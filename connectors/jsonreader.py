"""Decoded JSON to typed values: the one path-aware reader every JSON connector uses.

Every failure is a :class:`~hub.errors.NormalisationError` whose ``field`` is the exact JSON path
(``epcisBody.eventList[2].sensorElementList[0].sensorReport[1].value``), so a partner can find
the offending value without reading our code, and whose ``code`` says what is wrong
(``MISSING_FIELD``, ``MALFORMED``, ``BAD_TIMESTAMP``, ``INVALID_IDENTIFIER`` ...). Nothing here
raises anything else: whatever JSON a partner sends, the connector answers with events or one
rejection. A feed that carries patient identity reads with ``quote_values=False``: its errors
then name the path and what was expected, never the value. A partner that sends codes and ids
as numbers as well as strings (``"status_code": 13``) reads with ``integers_as_text=True``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from connectors.timestamps import parse_timestamp
from hub.errors import InvalidIdentifierError, NormalisationError
from hub.events.identifiers import DEFAULT_COI_PATTERN, parse_din, validate_coi

_BOM = "\ufeff"


def join(path: str, key: str | int) -> str:
    """``a.b`` for keys, ``a[3]`` for list positions."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_json_object(payload: bytes, partner: str) -> dict[str, Any]:
    """Decode a UTF-8 JSON object (a leading byte-order mark is not content), or raise a
    rejection saying exactly what is wrong; the errors never quote the payload."""
    try:
        text = payload.decode("utf-8").removeprefix(_BOM)
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


class JsonReader:
    """Typed getters over decoded JSON objects.

    Each getter reads ``parent[key]``, where ``path`` is the parent's own JSON path (``""`` for
    the document); ``parent`` None is an absent object, whose fields are all absent. Absent
    (``null``, or ``""`` for text) is None, or ``MISSING_FIELD`` where the field is required.
    ``partner`` and ``message_id`` go on every error; a connector sets ``message_id`` once it
    has read it.
    """

    def __init__(
        self,
        partner: str,
        message_id: str | None = None,
        *,
        quote_values: bool = True,
        integers_as_text: bool = False,
    ) -> None:
        self.partner = partner
        self.message_id = message_id
        self.quote_values = quote_values
        self.integers_as_text = integers_as_text

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

    def _got(self, value: Any) -> str:
        return f", got {value!r}" if self.quote_values else ""

    def obj(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> dict[str, Any] | None:
        value = parent.get(key) if parent is not None else None
        if value is None:
            if required:
                raise self.missing(join(path, key))
            return None
        result: dict[str, Any] = self._typed(value, dict, "an object", join(path, key))
        return result

    def req_obj(self, parent: dict[str, Any] | None, key: str, path: str) -> dict[str, Any]:
        """A required object field."""
        value = self.obj(parent, key, path, required=True)
        if value is None:  # unreachable: obj() raised MISSING_FIELD
            raise self.missing(join(path, key))
        return value

    def array(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> list[Any]:
        value = parent.get(key) if parent is not None else None
        if value is None:
            if required:
                raise self.missing(join(path, key))
            return []
        result: list[Any] = self._typed(value, list, "an array", join(path, key))
        return result

    def objects(
        self, parent: dict[str, Any] | None, key: str, path: str
    ) -> list[tuple[str, dict[str, Any]]]:
        """The objects of an optional array, each with its path."""
        where = join(path, key)
        return [
            (join(where, i), self._typed(item, dict, "an object", join(where, i)))
            for i, item in enumerate(self.array(parent, key, path))
        ]

    def strings(self, parent: dict[str, Any] | None, key: str, path: str) -> list[str]:
        where = join(path, key)
        return [
            self._typed(item, str, "a string", join(where, i))
            for i, item in enumerate(self.array(parent, key, path))
        ]

    def text(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = parent.get(key) if parent is not None else None
        if value is None or value == "":
            if required:
                raise self.missing(join(path, key))
            return None
        if self.integers_as_text and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        result: str = self._typed(value, str, "a string", join(path, key))
        return result

    def req(self, parent: dict[str, Any] | None, key: str, path: str) -> str:
        """A required string field."""
        value = self.text(parent, key, path, required=True)
        if value is None:  # unreachable: text() raised MISSING_FIELD
            raise self.missing(join(path, key))
        return value

    def flag(self, parent: dict[str, Any] | None, key: str, path: str) -> bool | None:
        value = parent.get(key) if parent is not None else None
        if value is None or isinstance(value, bool):
            return value
        where = join(path, key)
        raise self.error(f"'{where}' must be true or false{self._got(value)}", where)

    def number(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> float | None:
        value = parent.get(key) if parent is not None else None
        where = join(path, key)
        if value is None:
            if required:
                raise self.missing(where)
            return None
        self._typed(value, (int, float), "a number", where)
        try:
            number = float(value)
        except OverflowError as exc:
            raise self.error(f"'{where}' is too large for a number", where) from exc
        if not math.isfinite(number):
            raise self.error(f"'{where}' must be a finite number{self._got(value)}", where)
        return number

    def time(
        self, parent: dict[str, Any] | None, key: str, path: str, *, required: bool = False
    ) -> datetime | None:
        """A timestamp by the rules of :mod:`connectors.timestamps`, in UTC."""
        text = self.text(parent, key, path, required=required)
        if text is None:
            return None
        where = join(path, key)
        return parse_timestamp(text, where, self.partner, self.message_id, quote=self.quote_values)

    def req_time(self, parent: dict[str, Any] | None, key: str, path: str) -> datetime:
        """A required timestamp with an explicit offset, in UTC."""
        value = self.time(parent, key, path, required=True)
        if value is None:  # unreachable: time() raised MISSING_FIELD
            raise self.missing(join(path, key))
        return value

    def coi(
        self,
        parent: dict[str, Any] | None,
        key: str,
        path: str,
        *,
        required: bool = True,
        pattern: str = DEFAULT_COI_PATTERN,
    ) -> str | None:
        """A COI identifier, validated (format + Mod 37-2) and normalised without ``&/``."""
        raw = self.text(parent, key, path, required=required)
        if raw is None:
            return None
        try:
            return validate_coi(raw, pattern)
        except InvalidIdentifierError as exc:
            raise self._identifier_error(exc, join(path, key)) from exc

    def din(
        self,
        parent: dict[str, Any] | None,
        key: str,
        path: str,
        *,
        check: str | None = None,
        required: bool = False,
    ) -> str | None:
        """An ISBT 128 DIN normalised to ``=`` + 13 characters + 2 flag characters; ``check``,
        the label's check character when known, must match Mod 37-2."""
        raw = self.text(parent, key, path, required=required)
        if raw is None:
            return None
        try:
            din = parse_din(raw, check)
        except InvalidIdentifierError as exc:
            raise self._identifier_error(exc, join(path, key)) from exc
        return f"={din.core}{din.flags or '00'}"

    def _identifier_error(self, exc: InvalidIdentifierError, where: str) -> InvalidIdentifierError:
        return InvalidIdentifierError(
            exc.reason, partner=self.partner, message_id=self.message_id, field=where
        )
