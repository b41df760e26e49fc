"""CBV 2.0 vocabulary: how business steps, dispositions, transaction and party types are
written (short word, URN or GS1 Web URI), which canonical event a business step becomes, and
how temperatures are converted to Celsius.

The mapping is deliberately conservative: a business step only becomes a canonical milestone
when the CBV definition and the vein-to-vein meaning agree (see README.md beside this file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.events.models import EventType

# urn:epcglobal:cbv:bizstep:shipping, https://ref.gs1.org/cbv/BizStep-shipping, cbv:BizStep-...
_URN = re.compile(r"^urn:epcglobal:cbv:(bizstep|disp|btt|sdt|er):([A-Za-z0-9_]+)$")
_WEB = re.compile(
    r"^(?:https?://ref\.gs1\.org/cbv/|https?://gs1\.org/voc/|cbv:|gs1:)"
    r"(BizStep|Disp|BTT|SDT|ER)-([A-Za-z0-9_]+)$"
)
_WEB_KIND = {"BizStep": "bizstep", "Disp": "disp", "BTT": "btt", "SDT": "sdt", "ER": "er"}


def cbv_term(value: str, kind: str) -> str:
    """The CBV short word for ``value`` when it is a CBV term of ``kind`` (``bizstep``,
    ``disp``, ``btt``, ``sdt``, ``er``) in any of its spellings; any other value unchanged."""
    if match := _URN.match(value):
        if match.group(1) == kind:
            return match.group(2)
        return value
    if (match := _WEB.match(value)) and _WEB_KIND[match.group(1)] == kind:
        return match.group(2)
    return value


@dataclass(frozen=True)
class StepMapping:
    """What one business step becomes: the canonical event type and, for shipment events,
    the shipment status written into :class:`~hub.events.models.ShipmentDetail`."""

    event_type: EventType
    status: str | None = None


BIZSTEP_EVENTS: dict[str, StepMapping] = {
    # CBV: shipping is the whole outbound process, departing the moment it leaves.
    "shipping": StepMapping(EventType.SHIPMENT_DEPARTED, "DEPARTED"),
    "departing": StepMapping(EventType.SHIPMENT_DEPARTED, "DEPARTED"),
    "transporting": StepMapping(EventType.SHIPMENT_STATUS, "IN_TRANSIT"),
    # CBV: declaring that a previously shipped object was not actually shipped.
    "void_shipping": StepMapping(EventType.SHIPMENT_STATUS, "VOIDED"),
    "arriving": StepMapping(EventType.SHIPMENT_DELIVERED, "DELIVERED"),
    # CBV: received at a location and added to the receiver's inventory.
    "receiving": StepMapping(EventType.MATERIAL_RECEIVED),
    # CBV: the object changes possession and/or ownership -> the accepting side of a handover.
    "accepting": StepMapping(EventType.CUSTODY_ACCEPTED),
    # CBV: made available to a consumer -> the releasing side (pharmacy -> infusion team).
    "dispensing": StepMapping(EventType.CUSTODY_RELEASED),
    # An autologous product has no substitute: its destruction is for QA to review.
    "destroying": StepMapping(EventType.DEVIATION_OPENED),
}

# Business steps that assign or group identifiers: with a known COI each identifier becomes an
# IDENTIFIER_LINKED event (AssociationEvents always link, whatever their business step).
LINKING_STEPS = frozenset({"commissioning", "packing"})

# Documented as "readings only": no canonical milestone, temperature readings are still kept.
READINGS_ONLY_STEPS = frozenset(
    {"inspecting", "sensor_reporting", "storing", "sampling", "holding", "loading", "unloading"}
)

_TEMPERATURE_TYPES = re.compile(r"^(?:gs1:|https?://(?:www\.)?gs1\.org/voc/)?Temperature$")


def is_temperature(measurement_type: str) -> bool:
    """``Temperature``, ``gs1:Temperature`` or the GS1 Web Vocabulary URI."""
    return _TEMPERATURE_TYPES.match(measurement_type) is not None


def to_celsius(value: float, uom: str) -> float | None:
    """Convert a temperature in a UN/ECE Recommendation 20 unit (``CEL`` degree Celsius,
    ``FAH`` degree Fahrenheit, ``KEL`` kelvin) to Celsius; None for any other unit. ``FAR`` is
    the farad, not Fahrenheit."""
    if uom == "CEL":
        return value
    if uom == "FAH":
        return round((value - 32.0) * 5.0 / 9.0, 6)
    if uom == "KEL":
        return round(value - 273.15, 6)
    return None
