"""Where a chain stands on the critical path (DOMAIN.md section 1); stages only move forward."""

from __future__ import annotations

from hub.events.models import EventType

STAGES: tuple[str, ...] = (
    "NEW",
    "ORDERED",
    "SCHEDULED",
    "COLLECTED",
    "IN_TRANSIT_TO_MANUFACTURING",
    "AT_MANUFACTURING",
    "MANUFACTURING",
    "QC",
    "RELEASED",
    "IN_TRANSIT_TO_SITE",
    "AT_SITE",
    "LYMPHODEPLETION",
    "INFUSED",
)

_STAGE_OF: dict[EventType, str] = {
    EventType.THERAPY_ORDERED: "ORDERED",
    EventType.SLOT_BOOKED: "SCHEDULED",
    EventType.COLLECTION_COMPLETED: "COLLECTED",
    EventType.MATERIAL_RECEIVED: "AT_MANUFACTURING",
    EventType.MANUFACTURING_STARTED: "MANUFACTURING",
    EventType.MANUFACTURING_COMPLETED: "QC",
    EventType.RELEASE_DECIDED: "RELEASED",
    EventType.PRODUCT_RECEIVED_AT_SITE: "AT_SITE",
    EventType.LYMPHODEPLETION_STARTED: "LYMPHODEPLETION",
    EventType.INFUSION_COMPLETED: "INFUSED",
}


def next_stage(current: str, event_type: EventType, released: bool) -> str:
    """The stage after ``event_type``; a departure means transit towards manufacturing before
    release and towards the treatment site after it."""
    if event_type in (EventType.SHIPMENT_DEPARTED, EventType.CUSTODY_RELEASED):
        candidate = "IN_TRANSIT_TO_SITE" if released else "IN_TRANSIT_TO_MANUFACTURING"
    else:
        candidate = _STAGE_OF.get(event_type, current)
    if STAGES.index(candidate) > STAGES.index(current):
        return candidate
    return current
