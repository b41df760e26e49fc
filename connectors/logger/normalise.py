"""Temperature data logger CSV exports: single readings or interval reports, one event per row.

The high-volume feed: an export holds thousands of rows, so everything constant per file
(source, identifiers, unit conversion, logging interval) is resolved once and the per-row path
is one timestamp parse, one float parse, one conversion and one event. The mapping, the columns
and the rejection codes are in README.md beside this file.

An export is all or nothing: the first bad row rejects the whole file (with its row and line
number), so a partial series never reaches the chain and a corrected re-export replaces it whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import ClassVar

from connectors.base import Connector, RawMessage, payload_id
from connectors.csvsupport import CsvTable, decode_text
from connectors.timestamps import BadTimestamp, instant
from hub.errors import NormalisationError
from hub.events.models import Event, EventType, Identifiers, TemperatureDetail

# unit as exported (lower case) -> (subtrahend, factor): celsius = (value - subtrahend) * factor
UNITS: dict[str, tuple[float, float]] = {
    "c": (0.0, 1.0),
    "cel": (0.0, 1.0),
    "°c": (0.0, 1.0),
    "℃": (0.0, 1.0),
    "degc": (0.0, 1.0),
    "deg_c": (0.0, 1.0),
    "celsius": (0.0, 1.0),
    "f": (32.0, 5.0 / 9.0),
    "fah": (32.0, 5.0 / 9.0),
    "°f": (32.0, 5.0 / 9.0),
    "℉": (32.0, 5.0 / 9.0),
    "degf": (32.0, 5.0 / 9.0),
    "deg_f": (32.0, 5.0 / 9.0),
    "fahrenheit": (32.0, 5.0 / 9.0),
    "k": (273.15, 1.0),
    "kel": (273.15, 1.0),
    "kelvin": (273.15, 1.0),
}
ABSOLUTE_ZERO_C = -273.15
MAX_PLAUSIBLE_C = 1000.0
_DECIMALS = 4  # converted values are rounded so 35.6 F reads 2.0 C, not 2.0000000000000004

ALIASES: dict[str, str] = {
    "logger": "logger_id",
    "device_id": "logger_id",
    "serial": "logger_id",
    "shipment": "shipment_id",
    "time": "timestamp",
    "reading_time": "timestamp",
    "temperature": "value",
    "temp": "value",
    "start": "interval_start",
    "end": "interval_end",
    "min_value": "min",
    "minimum": "min",
    "max_value": "max",
    "maximum": "max",
    "mean_value": "mean",
    "average": "mean",
    "avg": "mean",
    "uom": "unit",
    "interval_s": "logging_interval_s",
}
KNOWN = frozenset(
    {
        "logger_id",
        "shipment_id",
        "timestamp",
        "value",
        "unit",
        "interval_start",
        "interval_end",
        "min",
        "max",
        "mean",
        "logging_interval_s",
    }
)

Converter = Callable[[str], float]


class LoggerConnector(Connector):
    name: ClassVar[str] = "logger"
    system: ClassVar[str] = "data-logger"
    content_types: ClassVar[tuple[str, ...]] = ("text/csv",)

    def normalise(self, message: RawMessage) -> list[Event]:
        text = decode_text(message.payload, self.name)
        table = CsvTable(text, self.name, known=KNOWN, aliases=ALIASES)
        meta = table.metadata
        message_id = meta.get("export_id") or payload_id(message.payload)
        table.message_id = message_id
        return _FileParser(self, table, message, message_id).events()


class _FileParser:
    """One export being read: the per-file constants and the per-row loop."""

    def __init__(
        self, connector: Connector, table: CsvTable, message: RawMessage, message_id: str
    ) -> None:
        self.partner = connector.name
        self.table = table
        self.message_id = message_id
        self.envelope = replace(
            connector.envelope(message, message_id), biz_step="sensor_reporting"
        )
        meta = table.metadata
        self.logger_col = self._column_or_meta("logger_id")
        self.shipment_col = self._column_or_meta("shipment_id")
        self.unit_col = self._column_or_meta("unit")
        self.interval_col = table.columns.get("logging_interval_s")
        self._ids: dict[tuple[str, str], Identifiers] = {}
        # the partner's own unit spellings (registry ``units``: spelling -> Rec 20 code)
        self._units: dict[str, tuple[float, float]] = {
            spelling: UNITS[code.lower()]
            for spelling, code in (connector.config.partner_options.get("units") or {}).items()
            if code.lower() in UNITS
        }
        self._intervals: dict[str, int] = {}
        self.default_interval = self._interval(meta.get("logging_interval_s"), 0, 0)

    def _column_or_meta(self, column: str) -> int | None:
        """The column's position, or None when a metadata line supplies the file-wide value."""
        if column in self.table.columns:
            return self.table.columns[column]
        if self.table.metadata.get(column):
            return None
        self.table.require(column)  # raises MISSING_COLUMN
        return None

    def events(self) -> list[Event]:
        if self.table.has("value"):
            return self._readings()
        if any(self.table.has(c) for c in ("interval_start", "interval_end", "min", "max")):
            return self._intervals_report()
        self.table.require("value")
        return []

    # --- per-row helpers: cached lookups first, the slow path only on a miss or an error ------

    def _cell(self, cells: list[str], col: int | None, name: str, row: int, line: int) -> str:
        value = cells[col].strip() if col is not None else self.table.metadata[name]
        if not value:
            if col is not None and self.table.metadata.get(name):
                return self.table.metadata[name]
            raise self.table.error(
                row, line, f"'{name}' is empty", code="MISSING_FIELD", field=name
            )
        return value

    def _identifiers(self, cells: list[str], row: int, line: int) -> Identifiers:
        logger_id = self._cell(cells, self.logger_col, "logger_id", row, line)
        shipment_id = self._cell(cells, self.shipment_col, "shipment_id", row, line)
        key = (logger_id, shipment_id)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = Identifiers(shipment_id=shipment_id, logger_id=logger_id)
        return ids

    def _unit(self, cells: list[str], row: int, line: int) -> tuple[float, float]:
        raw = self._cell(cells, self.unit_col, "unit", row, line)
        unit = self._units.get(raw)
        if unit is None:
            unit = UNITS.get(raw.lower().replace(" ", ""))
            if unit is None:
                raise self.table.error(
                    row,
                    line,
                    f"unknown temperature unit {raw!r} (expected C/CEL/°C, F or K)",
                    code="UNKNOWN_UNIT",
                    field="unit",
                )
            self._units[raw] = unit
        return unit

    def _interval(self, raw: str | None, row: int, line: int) -> int | None:
        """A logging interval in whole seconds; ``row`` 0 means the metadata line."""
        if raw is None or not raw.strip():
            return None
        seconds = self._intervals.get(raw)
        if seconds is None:
            text = raw.strip()
            ok = text.isascii() and text.isdigit() and len(text) <= 9
            seconds = int(text) if ok else 0
            if seconds <= 0:
                reason = f"logging interval {raw!r} is not a positive whole number of seconds"
                if row:
                    raise self.table.error(
                        row, line, reason, code="NOT_NUMERIC", field="logging_interval_s"
                    )
                raise NormalisationError(
                    f"metadata line: {reason}",
                    partner=self.partner,
                    message_id=self.message_id,
                    field="logging_interval_s",
                    code="BAD_METADATA",
                )
            self._intervals[raw] = seconds
        return seconds

    def _celsius(
        self, text: str, unit: tuple[float, float], name: str, row: int, line: int
    ) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        sub, factor = unit
        celsius = (
            value if factor == 1.0 and sub == 0.0 else round((value - sub) * factor, _DECIMALS)
        )
        if ABSOLUTE_ZERO_C <= celsius <= MAX_PLAUSIBLE_C:
            return celsius
        if math.isfinite(celsius):
            raise self.table.error(
                row,
                line,
                f"'{name}' {text!r} is {celsius} °C, outside {ABSOLUTE_ZERO_C}..{MAX_PLAUSIBLE_C}",
                code="IMPLAUSIBLE_VALUE",
                field=name,
            )
        raise self.table.error(
            row, line, f"'{name}' is not a number: {text!r}", code="NOT_NUMERIC", field=name
        )

    def _time(self, text: str, name: str, row: int, line: int) -> datetime:
        try:
            return instant(text)
        except BadTimestamp as exc:
            raise self.table.error(
                row, line, exc.reason(name, text), code=exc.code, field=name
            ) from exc

    def _logging_interval(self, cells: list[str], row: int, line: int) -> int | None:
        if self.interval_col is None:
            return self.default_interval
        return self._interval(cells[self.interval_col], row, line) or self.default_interval

    def _event(
        self, index: int, at: datetime, ids: Identifiers, detail: TemperatureDetail
    ) -> Event:
        shared = replace(self.envelope, identifiers=ids)
        return shared.event(index, EventType.TEMPERATURE_READING, at, detail)

    # --- the two file kinds -------------------------------------------------------------------

    def _readings(self) -> list[Event]:
        ts_col, value_col = self.table.require("timestamp", "value")
        events: list[Event] = []
        for row, line, cells in self.table.rows():
            ids = self._identifiers(cells, row, line)
            unit = self._unit(cells, row, line)
            at = self._time(cells[ts_col].strip(), "timestamp", row, line)
            value = self._celsius(cells[value_col].strip(), unit, "value", row, line)
            detail = TemperatureDetail(
                logger_id=ids.logger_id,
                value=value,
                logging_interval_s=self._logging_interval(cells, row, line),
            )
            events.append(self._event(row - 1, at, ids, detail))
        return events

    def _intervals_report(self) -> list[Event]:
        cols = self.table.require("interval_start", "interval_end", "min", "max")
        start_col, end_col, min_col, max_col = cols
        mean_col = self.table.columns.get("mean")
        events: list[Event] = []
        for row, line, cells in self.table.rows():
            ids = self._identifiers(cells, row, line)
            unit = self._unit(cells, row, line)
            start = self._time(cells[start_col].strip(), "interval_start", row, line)
            end = self._time(cells[end_col].strip(), "interval_end", row, line)
            low = self._celsius(cells[min_col].strip(), unit, "min", row, line)
            high = self._celsius(cells[max_col].strip(), unit, "max", row, line)
            mean_text = cells[mean_col].strip() if mean_col is not None else ""
            mean = self._celsius(mean_text, unit, "mean", row, line) if mean_text else None
            if end < start or low > high or (mean is not None and not low <= mean <= high):
                raise self.table.error(
                    row,
                    line,
                    f"inconsistent interval: start {start.isoformat()} end {end.isoformat()}, "
                    f"min {low} mean {mean} max {high} (need start <= end, min <= mean <= max)",
                    code="BAD_INTERVAL",
                )
            detail = TemperatureDetail(
                logger_id=ids.logger_id,
                min_value=low,
                max_value=high,
                mean_value=mean,
                interval_start=start,
                interval_end=end,
                logging_interval_s=self._logging_interval(cells, row, line),
            )
            events.append(self._event(row - 1, end, ids, detail))
        return events


CONNECTOR = LoggerConnector
