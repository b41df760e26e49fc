"""Temperature readings and logger faults out of an EPCIS event's ``sensorElementList``.

Every ``sensorReport`` entry whose type is Temperature becomes at most one item, in document
order (its position is the index of its event id, so readings keep their ids whatever else
the event carries):

* a :class:`Reading` (in Celsius) when it has a ``value`` or an interval report
  (``minValue``/``maxValue``/``meanValue`` over the metadata's ``startTime``..``endTime``);
* a :class:`Fault` when it has an ``exception`` (``ALARM_CONDITION``, ``ERROR_CONDITION``) and
  no value: the logger says something is wrong and gives no temperature, so there is no reading;
* nothing when it has neither (e.g. only a ``stringValue``): not a temperature the hub can judge.

A report without a ``type`` but with an ``exception`` (the EPCIS 2.0 XML examples have one) is a
fault too: the device reports a problem and nothing says it is not the temperature channel.
Reports of other types (humidity, speed, ...) are passed over.

Fields that tell readings apart without being mapped (``component``, ``deviceMetadata``,
``rawData``, ``sDev``, percentiles, the other value kinds, extensions, on the report and on its
metadata) are kept verbatim in ``extra`` so two readings of one instant stay distinguishable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.epcis.vocabulary import is_temperature, to_celsius
from connectors.jsonreader import JsonReader, canonical_json, join
from hub.events.models import TemperatureDetail

_VALUES = ("value", "minValue", "maxValue", "meanValue")
# Report fields the reading itself carries; everything else is kept in ``extra``.
_MAPPED_REPORT = frozenset({"type", "uom", "time", "deviceID", "exception", *_VALUES})
_MAPPED_METADATA = frozenset({"time", "startTime", "endTime", "deviceID"})
_EXCEPTION = re.compile(r"^(?:gs1:|https?://(?:www\.)?gs1\.org/voc/)")


@dataclass(frozen=True)
class Reading:
    """One temperature reading with the time it was taken and the device that took it."""

    occurred_at: datetime
    detail: TemperatureDetail
    device_id: str | None
    exception: str | None
    extra: dict[str, str]


@dataclass(frozen=True)
class Fault:
    """A sensor report with an exception and no value: the logger, not the material, failed."""

    occurred_at: datetime
    device_id: str | None
    exception: str
    measurement: str | None
    extra: dict[str, str]


@dataclass(frozen=True)
class _Element:
    """What a report inherits from its element's ``sensorMetadata``."""

    time: datetime | None
    start: datetime | None
    end: datetime | None
    device: str | None
    extra: dict[str, str]


def temperature_readings(
    event: dict[str, Any], path: str, event_time: datetime, r: JsonReader
) -> list[Reading | Fault]:
    out: list[Reading | Fault] = []
    for element_path, element in r.objects(event, "sensorElementList", path):
        meta = r.obj(element, "sensorMetadata", element_path) or {}
        meta_path = join(element_path, "sensorMetadata")
        kept = {k: v for k, v in meta.items() if k not in _MAPPED_METADATA}
        outer = {k: v for k, v in element.items() if k not in ("sensorMetadata", "sensorReport")}
        extra = {"sensor_metadata": canonical_json(kept)} if kept else {}
        if outer:
            extra["sensor_element"] = canonical_json(outer)
        context = _Element(
            time=r.time(meta, "time", meta_path),
            start=r.time(meta, "startTime", meta_path),
            end=r.time(meta, "endTime", meta_path),
            device=r.text(meta, "deviceID", meta_path),
            extra=extra,
        )
        reports = r.objects(element, "sensorReport", element_path)
        if not reports:
            raise r.missing(join(element_path, "sensorReport"))
        for report_path, report in reports:
            exception = r.text(report, "exception", report_path)
            kind = (
                r.text(report, "type", report_path)
                if exception is not None
                else r.req(report, "type", report_path)
            )
            if kind is not None and not is_temperature(kind):
                continue
            item = _item(report, report_path, r, context, event_time, kind, exception)
            if item is not None:
                out.append(item)
    return out


def _item(
    report: dict[str, Any],
    path: str,
    r: JsonReader,
    context: _Element,
    event_time: datetime,
    kind: str | None,
    exception: str | None,
) -> Reading | Fault | None:
    """Time: the report's own ``time``, else the metadata's ``time``, else the interval's end
    (or start), else the event time."""
    numbers = {key: r.number(report, key, path) for key in _VALUES}
    device = r.text(report, "deviceID", path) or context.device
    taken = r.time(report, "time", path)
    occurred_at = taken or context.time or context.end or context.start or event_time
    kept = {k: v for k, v in report.items() if k not in _MAPPED_REPORT}
    extra = dict(context.extra)
    if kept:
        extra["sensor_report"] = canonical_json(kept)
    if all(n is None for n in numbers.values()):
        if exception is None:
            return None
        code = _EXCEPTION.sub("", exception)
        return Fault(occurred_at, device, code, kind, extra)
    raw_uom = r.text(report, "uom", path)
    uom = (raw_uom or "").strip().upper()
    values: dict[str, float | None] = {}
    for key, number in numbers.items():
        if number is None:
            values[key] = None
            continue
        celsius = to_celsius(number, uom)
        if celsius is None:
            where = join(path, "uom")
            shown = "missing" if raw_uom is None else repr(raw_uom)
            hint = " (FAR is the farad; Fahrenheit is FAH)" if uom == "FAR" else ""
            raise r.error(
                f"temperature unit {shown} at '{where}' is not a UN/ECE Rec 20 temperature "
                f"unit (CEL, FAH or KEL){hint}",
                where,
                "UNKNOWN_UNIT",
            )
        values[key] = celsius
    detail = TemperatureDetail(
        logger_id=device,
        unit="CEL",
        value=values["value"],
        min_value=values["minValue"],
        max_value=values["maxValue"],
        mean_value=values["meanValue"],
        interval_start=context.start,
        interval_end=context.end,
    )
    return Reading(
        occurred_at=occurred_at,
        detail=detail,
        device_id=device,
        exception=exception,
        extra=extra,
    )
