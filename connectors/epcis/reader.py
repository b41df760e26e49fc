"""Path-aware, typed access to a decoded EPCIS JSON document.

Every failure is a :class:`~hub.errors.NormalisationError` naming the exact JSON path (for
example ``epcisBody.eventList[2].sensorElementList[0].sensorReport[1].value``), so a partner can
find the offending value without reading our code. Nothing here raises anything else: whatever
JSON the partner sends, the connector answers with events or one rejection.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from connectors.fields import parse_json_object
from connectors.timestamps import parse_timestamp
from hub.errors import NormalisationError


def join(path: str, key: str | int) -> str:
    """``a.b`` for keys, ``a[3]`` for list positions."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def load_document(payload: bytes, partner: str) -> dict[str, Any]:
    """Decode the payload as one JSON object; nesting too deep to decode is a rejection too."""
    try:
        return parse_json_object(payload, partner)
    except (RecursionError, ValueError) as exc:
        # ValueError: an integer literal beyond Python's digit limit is not a JSONDecodeError.
        raise NormalisationError(
            f"payload cannot be decoded as JSON ({type(exc).__name__})",
            partner=partner,
            code="NOT_JSON",
        ) from exc


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Reader:
    """Typed getters over JSON objects; ``message_id`` is attached to every error."""

    def __init__(self, partner: str, message_id: str | None = None) -> None:
        self.partner = partner
        self.message_id = message_id

    def error(self, reason: str, path: str, code: str = "MALFORMED") -> NormalisationError:
        return NormalisationError(
            reason, partner=self.partner, message_id=self.message_id, field=path, code=code
        )

    def missing(self, path: str) -> NormalisationError:
        return self.error(f"required field '{path}' is missing", path, "MISSING_FIELD")

    def obj(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> dict[str, Any] | None:
        where = join(path, key)
        value = parent.get(key)
        if value is None:
            if required:
                raise self.missing(where)
            return None
        if not isinstance(value, dict):
            raise self.error(f"'{where}' must be an object, got {type(value).__name__}", where)
        return value

    def req_obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        """A required object field."""
        value = self.obj(parent, key, path, required=True)
        if value is None:  # unreachable: obj() raised MISSING_FIELD
            raise self.missing(join(path, key))
        return value

    def array(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> list[Any]:
        where = join(path, key)
        value = parent.get(key)
        if value is None:
            if required:
                raise self.missing(where)
            return []
        if not isinstance(value, list):
            raise self.error(f"'{where}' must be an array, got {type(value).__name__}", where)
        return value

    def objects(self, parent: dict[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        """The objects of an optional array, each with its path."""
        where = join(path, key)
        out: list[tuple[str, Any]] = []
        for i, item in enumerate(self.array(parent, key, path)):
            if not isinstance(item, dict):
                at = join(where, i)
                raise self.error(f"'{at}' must be an object, got {type(item).__name__}", at)
            out.append((join(where, i), item))
        return out

    def strings(self, parent: dict[str, Any], key: str, path: str) -> list[str]:
        where = join(path, key)
        out: list[str] = []
        for i, item in enumerate(self.array(parent, key, path)):
            if not isinstance(item, str):
                at = join(where, i)
                raise self.error(f"'{at}' must be a string, got {type(item).__name__}", at)
            out.append(item)
        return out

    def text(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        where = join(path, key)
        value = parent.get(key)
        if value is None or value == "":
            if required:
                raise self.missing(where)
            return None
        if not isinstance(value, str):
            raise self.error(f"'{where}' must be a string, got {type(value).__name__}", where)
        return value

    def req(self, parent: dict[str, Any], key: str, path: str) -> str:
        """A required string field."""
        value = self.text(parent, key, path, required=True)
        if value is None:  # unreachable: text() raised MISSING_FIELD
            raise self.missing(join(path, key))
        return value

    def number(self, parent: dict[str, Any], key: str, path: str) -> float | None:
        where = join(path, key)
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"'{where}' must be a number, got {type(value).__name__}", where)
        try:
            number = float(value)
        except OverflowError as exc:
            raise self.error(f"'{where}' is too large for a number", where) from exc
        if not math.isfinite(number):
            raise self.error(f"'{where}' must be a finite number, got {value!r}", where)
        return number

    def time(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> datetime | None:
        text = self.text(parent, key, path, required=required)
        if text is None:
            return None
        return parse_timestamp(text, join(path, key), self.partner, self.message_id)

    def req_time(self, parent: dict[str, Any], key: str, path: str) -> datetime:
        """A required timestamp with an explicit offset, in UTC."""
        return parse_timestamp(
            self.req(parent, key, path), join(path, key), self.partner, self.message_id
        )
