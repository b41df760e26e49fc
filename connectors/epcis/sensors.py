"""Temperature readings out of an EPCIS event's ``sensorElementList``.

Every ``sensorReport`` entry whose type is Temperature becomes exactly one reading, in Celsius:
a single ``value``, or an interval report (``minValue``/``maxValue``/``meanValue`` over the
metadata's ``startTime``..``endTime``). Reports of other types (humidity, speed, ...) are not
readings the hub watches and are passed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.epcis.vocabulary import is_temperature, to_celsius
from connectors.jsonreader import JsonReader, join
from hub.events.models import TemperatureDetail


@dataclass(frozen=True)
class Reading:
    """One temperature reading with the time it was taken and the device that took it."""

    occurred_at: datetime
    detail: TemperatureDetail
    device_id: str | None
    exception: str | None


def temperature_readings(
    event: dict[str, Any], path: str, event_time: datetime, r: JsonReader
) -> list[Reading]:
    readings: list[Reading] = []
    for element_path, element in r.objects(event, "sensorElementList", path):
        meta = r.obj(element, "sensorMetadata", element_path) or {}
        meta_path = join(element_path, "sensorMetadata")
        meta_time = r.time(meta, "time", meta_path)
        start = r.time(meta, "startTime", meta_path)
        end = r.time(meta, "endTime", meta_path)
        meta_device = r.text(meta, "deviceID", meta_path)
        reports = r.objects(element, "sensorReport", element_path)
        if not reports:
            raise r.missing(join(element_path, "sensorReport"))
        for report_path, report in reports:
            if not is_temperature(r.req(report, "type", report_path)):
                continue
            readings.append(
                _reading(report, report_path, r, meta_time, start, end, meta_device, event_time)
            )
    return readings


def _reading(
    report: dict[str, Any],
    path: str,
    r: JsonReader,
    meta_time: datetime | None,
    start: datetime | None,
    end: datetime | None,
    meta_device: str | None,
    event_time: datetime,
) -> Reading:
    """Time: the report's own ``time``, else the metadata's ``time``, else the interval's end
    (or start), else the event time."""
    raw_uom = r.text(report, "uom", path)
    uom = (raw_uom or "").strip().upper()
    values: dict[str, float | None] = {}
    for key in ("value", "minValue", "maxValue", "meanValue"):
        number = r.number(report, key, path)
        if number is None:
            values[key] = None
            continue
        celsius = to_celsius(number, uom)
        if celsius is None:
            where = join(path, "uom")
            shown = "missing" if raw_uom is None else repr(raw_uom)
            raise r.error(
                f"temperature unit {shown} at '{where}' is not CEL, FAR or KEL",
                where,
                "UNKNOWN_UNIT",
            )
        values[key] = celsius
    device = r.text(report, "deviceID", path) or meta_device
    taken = r.time(report, "time", path)
    detail = TemperatureDetail(
        logger_id=device,
        unit="CEL",
        value=values["value"],
        min_value=values["minValue"],
        max_value=values["maxValue"],
        mean_value=values["meanValue"],
        interval_start=start,
        interval_end=end,
    )
    return Reading(
        occurred_at=taken or meta_time or end or start or event_time,
        detail=detail,
        device_id=device,
        exception=r.text(report, "exception", path),
    )
