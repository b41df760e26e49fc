"""SAP OData (v2 and v4) inspection-lot usage decisions -> RELEASE_DECIDED.

The usage decision (UD) on the inspection lot of a finished batch is the QA release (valuation
``A``, accepted -> CERTIFIED) or rejection (``R`` -> REJECTED). The entity is S/4HANA's
``A_InspLotUsageDecision`` (API_INSPECTIONLOT_SRV), optionally with the inspection lot expanded
(``to_InspectionLot``) for batch, material and plant. Accepted shapes:

* v2 entity ``{"d": {...}}`` and v2 collection ``{"d": {"results": [...]}}``;
* v4 entity ``{"@odata.context": "...", ...}`` and v4 collection ``{"value": [...]}``.

Each entity is one decision, keyed by (inspection lot, decision time): a re-polled decision gives
the same event id, a changed decision (new time) a new one.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from connectors.base import Envelope
from connectors.fields import Fields
from connectors.sap.idoc import alpha_out
from connectors.sap.timezones import LocalTimes
from connectors.timestamps import parse_timestamp
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    Event,
    EventType,
    Identifiers,
    Location,
    QualityDecisionDetail,
)

_V2_DATE = re.compile(r"^/Date\((-?\d{1,15})(?:([+-])(\d{4}))?\)/$")
_V2_TIME = re.compile(r"^PT(?:(\d{1,2})H)?(?:(\d{1,2})M)?(?:(\d{1,2})(?:\.\d{1,7})?S)?$")
_DECISIONS = {"A": ("CERTIFIED", "conformant"), "R": ("REJECTED", "non_conformant")}

# Canonical S/4HANA property first, then the short aliases some middleware sends.
CODE = ("InspectionLotUsageDecisionCode", "UsageDecisionCode")
VALUATION = ("InspLotUsageDecisionValuation", "UsageDecisionValuation")
CHANGED_AT = ("ChangedDateTime", "UsageDecisionDateTime")
DECIDED_ON = ("InspectionLotUsageDecidedOn", "UsageDecisionDate")
DECIDED_TIME = ("InspLotUsageDecisionTime", "UsageDecisionTime")
CHANGED_BY = ("InspLotUsageDecisionChangedBy", "UsageDecisionChangedBy")
DECIDED_BY = ("InspectionLotUsageDecidedBy", "UsageDecidedBy")
LOT_PREFIXES = ("", "to_InspectionLot.")


def entities(data: dict[str, Any], partner: str) -> list[dict[str, Any]]:
    """The usage-decision entities of a v2 or v4 payload, or a rejection naming the shape."""
    if "d" in data:
        body = data["d"]
        if not isinstance(body, dict):
            raise _shape_error(partner, "'d' must be an object", "d")
        if "results" in body:
            return _entity_list(body["results"], partner, "d.results")
        return [body]
    if "value" in data and isinstance(data["value"], list):
        return _entity_list(data["value"], partner, "value")
    if "@odata.context" in data or "InspectionLot" in data:  # v4, also with metadata=none
        return [data]
    raise _shape_error(
        partner,
        "JSON is neither OData v2 ({'d': ...}) nor OData v4 ('@odata.context' / 'value')",
        None,
        "UNSUPPORTED_FORMAT",
    )


def _entity_list(value: object, partner: str, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise _shape_error(partner, f"'{field}' must be a list of objects", field)
    return value


def _shape_error(
    partner: str, reason: str, field: str | None, code: str = "MALFORMED"
) -> NormalisationError:
    return NormalisationError(reason, partner=partner, field=field, code=code)


def _first(f: Fields, names: tuple[str, ...], prefixes: tuple[str, ...] = ("",)) -> str | None:
    for prefix in prefixes:
        for name in names:
            value = f.text(prefix + name, required=False)
            if value is not None:
                return value
    return None


def _entity_type(entity: dict[str, Any], f: Fields) -> str | None:
    meta = entity.get("__metadata")
    if isinstance(meta, dict):
        return Fields(meta, f.partner).text("type", required=False)
    context = entity.get("@odata.context")
    if context is not None and not isinstance(context, str):
        raise NormalisationError(
            "'@odata.context' must be a string", partner=f.partner, field="@odata.context"
        )
    return context


class UsageDecisions:
    """Maps usage-decision entities; one instance per message."""

    def __init__(self, partner: str, system: str, received_at: datetime, coi_pattern: str) -> None:
        self.partner = partner
        self.system = system
        self.received_at = received_at
        self.coi_pattern = coi_pattern

    def events(self, data: dict[str, Any]) -> list[Event]:
        return [self.decision(entity) for entity in entities(data, self.partner)]

    def decision(self, entity: dict[str, Any]) -> Event:
        f = Fields(entity, self.partner)
        kind = _entity_type(entity, f)
        if kind is not None and "usagedecision" not in kind.lower():
            raise NormalisationError(
                f"OData entity {kind!r} is not an inspection-lot usage decision",
                partner=self.partner,
                field="__metadata.type",
                code="UNSUPPORTED_ENTITY",
            )
        lot = alpha_out(f.req("InspectionLot"))
        f.message_id = lot
        valuation = _first(f, VALUATION)
        if valuation is None and not any(name in entity for name in VALUATION):
            raise _missing(f, VALUATION[0])
        decision = _DECISIONS.get((valuation or "").upper())
        if decision is None:
            raise NormalisationError(
                f"usage decision valuation {valuation or ''!r} is neither A (accepted) nor R "
                "(rejected): the lot has no release decision",
                partner=self.partner,
                message_id=lot,
                field=VALUATION[0],
                code="UNKNOWN_VALUATION",
            )
        code = _first(f, CODE)
        if code is None:
            raise _missing(f, CODE[0])
        occurred_at = self._decided_at(f)
        message_id = f"{lot}@{occurred_at.isoformat()}"
        batch = _first(f, ("Batch",), LOT_PREFIXES)
        coi_field = next(
            (p + "YY1_COI" for p in LOT_PREFIXES if f.text(p + "YY1_COI", required=False)), None
        )
        coi = f.coi(coi_field, pattern=self.coi_pattern) if coi_field else None
        if coi is None and batch is None:
            raise NormalisationError(
                f"usage decision on lot {lot} names neither a COI (YY1_COI) nor a batch",
                partner=self.partner,
                message_id=lot,
                field="Batch",
                code="MISSING_IDENTIFIER",
            )
        material = _first(f, ("Material",), LOT_PREFIXES)
        plant = _first(f, ("Plant", "SelectedCodeSetPlant"), LOT_PREFIXES)
        other = {"inspection_lot": lot}
        if material:
            other["material"] = material
        user = _first(f, CHANGED_BY) or _first(f, DECIDED_BY)
        label, disposition = decision
        envelope = replace(
            Envelope.of(self.partner, self.system, message_id, self.received_at),
            coi_id=coi,
            identifiers=Identifiers(batch_id=batch, other=other),
            actor=Actor(id=user, role="quality_assurance", organisation=plant) if user else None,
            location=Location(id=plant) if plant else None,
            biz_step="inspecting",
            disposition=disposition,
        )
        detail = QualityDecisionDetail(
            decision=label,
            decision_code=code,
            reference=lot,
            reason=f.text("YY1_UDReason", required=False),
        )
        return envelope.event(0, EventType.RELEASE_DECIDED, occurred_at, detail)

    def _decided_at(self, f: Fields) -> datetime:
        """``ChangedDateTime`` (Edm.DateTimeOffset) when sent; else the local decision date and
        time in ``YY1_TimeZone``. Neither is MISSING_FIELD; a local time without zone is
        TIMEZONE_MISSING."""
        for name in CHANGED_AT:
            text = f.text(name, required=False)
            if text is not None:
                return self._instant(text, name, f.message_id)
        day_text = _first(f, DECIDED_ON)
        if day_text is None:
            raise _missing(f, f"{CHANGED_AT[0]} or {DECIDED_ON[0]}")
        times = LocalTimes(self.partner, f.message_id)
        day = self._date(day_text, DECIDED_ON[0], f.message_id)
        clock = self._time(_first(f, DECIDED_TIME) or "PT00H00M00S", DECIDED_TIME[0], f)
        zone_code = f.text("YY1_TimeZone", required=False)
        zone = times.zone(zone_code, "YY1_TimeZone") if zone_code else None
        return times.to_utc(day, clock, zone, DECIDED_ON[0])

    def _bad(self, name: str, text: str, message_id: str | None) -> NormalisationError:
        return NormalisationError(
            f"'{name}' is not an OData date/time: {text!r}",
            partner=self.partner,
            message_id=message_id,
            field=name,
            code="BAD_TIMESTAMP",
        )

    def _instant(self, text: str, name: str, message_id: str | None) -> datetime:
        """v2 ``/Date(ms+hhmm)/`` or v4 ISO 8601; an offset is required either way."""
        match = _V2_DATE.match(text)
        if match is None:
            return parse_timestamp(text, name, self.partner, message_id)
        millis, sign, _offset_minutes = match.groups()
        if sign is None:
            raise NormalisationError(
                f"'{name}' {text!r} is an Edm.DateTime without offset (the hub never guesses)",
                partner=self.partner,
                message_id=message_id,
                field=name,
                code="TIMEZONE_MISSING",
            )
        try:
            # /Date(ms+mmmm)/: ms count from the epoch in UTC; the offset (minutes) only says
            # where the writer was, so it does not shift the instant.
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(millis))
        except OverflowError as exc:
            raise self._bad(name, text, message_id) from exc

    def _date(self, text: str, name: str, message_id: str | None) -> date:
        """v2 Edm.DateTime ``/Date(ms)/`` (midnight UTC = the calendar date) or v4 Edm.Date."""
        match = _V2_DATE.match(text)
        try:
            if match is not None:
                return date(1970, 1, 1) + timedelta(days=int(match.group(1)) // 86_400_000)
            return date.fromisoformat(text)
        except (ValueError, OverflowError) as exc:
            raise self._bad(name, text, message_id) from exc

    def _time(self, text: str, name: str, f: Fields) -> time:
        """v2 Edm.Time ``PT14H30M00S`` or v4 Edm.TimeOfDay ``14:30:00``."""
        match = _V2_TIME.match(text)
        try:
            if match is not None:
                hours, minutes, seconds = (int(g or 0) for g in match.groups())
                return time(hours, minutes, seconds)
            clock = time.fromisoformat(text)
            if clock.tzinfo is not None:
                raise ValueError("Edm.TimeOfDay carries no offset")
            return clock
        except ValueError as exc:
            raise self._bad(name, text, f.message_id) from exc


def _missing(f: Fields, name: str) -> NormalisationError:
    return NormalisationError(
        f"required field '{name}' is missing",
        partner=f.partner,
        message_id=f.message_id,
        field=name,
        code="MISSING_FIELD",
    )
