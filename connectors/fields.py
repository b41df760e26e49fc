"""Dotted-name reads (``custody.from``) from one JSON message, for the webhook dialects.

A thin view over :class:`~connectors.jsonreader.JsonReader`: the name is the field's JSON path,
and every type rule, error code and message is the reader's. These partners send codes and ids
as numbers or strings, so an integer reads as text. ``parse_json_object`` and
``parse_timestamp`` are re-exported because docs/adding-a-connector.md names them here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.jsonreader import JsonReader, join, parse_json_object
from connectors.timestamps import parse_timestamp
from hub.events.identifiers import DEFAULT_COI_PATTERN

__all__ = ["Fields", "parse_json_object", "parse_timestamp"]


class Fields:
    """Typed values out of one decoded JSON object; every failure names the field and message."""

    def __init__(self, data: dict[str, Any], partner: str, message_id: str | None = None) -> None:
        self.data = data
        self.reader = JsonReader(partner, message_id, integers_as_text=True)

    @property
    def partner(self) -> str:
        return self.reader.partner

    @property
    def message_id(self) -> str | None:
        return self.reader.message_id

    @message_id.setter
    def message_id(self, value: str | None) -> None:
        self.reader.message_id = value

    def _at(self, name: str) -> tuple[dict[str, Any] | None, str, str]:
        """The object that holds ``name``'s last part (None when an enclosing object is
        absent), that part, and the object's path."""
        *enclosing, key = name.split(".")
        value: Any = self.data
        path = ""
        for part in enclosing:
            if not isinstance(value, dict):
                raise self.reader.error(f"'{name}' expected inside an object", name)
            value = value.get(part)
            path = join(path, part)
            if value is None:
                return None, key, path
        if not isinstance(value, dict):
            raise self.reader.error(f"'{name}' expected inside an object", name)
        return value, key, path

    def text(self, name: str, *, required: bool = True) -> str | None:
        return self.reader.text(*self._at(name), required=required)

    def req(self, name: str) -> str:
        return self.reader.req(*self._at(name))

    def flag(self, name: str) -> bool | None:
        return self.reader.flag(*self._at(name))

    def number(self, name: str, *, required: bool = False) -> float | None:
        return self.reader.number(*self._at(name), required=required)

    def coi(
        self, name: str, *, required: bool = True, pattern: str = DEFAULT_COI_PATTERN
    ) -> str | None:
        """A COI identifier, validated (format + Mod 37-2) and normalised without ``&/``."""
        return self.reader.coi(*self._at(name), required=required, pattern=pattern)

    def din(
        self, name: str, *, check_field: str | None = None, required: bool = False
    ) -> str | None:
        """An ISBT 128 DIN normalised to ``=`` + 13 characters + 2 flags; when ``check_field``
        holds the label's check character it must match Mod 37-2."""
        check = self.text(check_field, required=False) if check_field else None
        return self.reader.din(*self._at(name), check=check, required=required)

    def time(self, name: str, *, required: bool = True) -> datetime | None:
        return self.reader.time(*self._at(name), required=required)

    def req_time(self, name: str) -> datetime:
        return self.reader.req_time(*self._at(name))
