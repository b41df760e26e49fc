"""Book-keeping of the chain's plan and key times; no findings.

Imported first by :mod:`hub.chain.rules`, so every later rule of the same event already sees
the updated :class:`~hub.chain.state.Plan` (order, slot, collection end, batch, expiry, thaw,
lymphodepletion and infusion times).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.chain.catalogue import rule
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.events.models import ClinicalDetail, Event, EventType, MaterialDetail, ScheduleDetail

_PRODUCT_EVENTS = frozenset(
    {
        EventType.CRYOPRESERVED,
        EventType.MANUFACTURING_COMPLETED,
        EventType.PRODUCT_RECEIVED_AT_SITE,
    }
)
"""Events whose ``expires_at`` is the (cryopreserved) product's label expiry. After thaw the
thaw window applies instead (THAW_WINDOW_EXCEEDED)."""


def collection_end(event: Event) -> datetime:
    """End of apheresis: the detail's collection end, else the event time."""
    detail = event.detail
    if isinstance(detail, MaterialDetail) and detail.collection_end is not None:
        return detail.collection_end
    return event.occurred_at


@rule(
    EventType.THERAPY_ORDERED,
    EventType.SLOT_BOOKED,
    EventType.SLOT_RESCHEDULED,
    EventType.COLLECTION_COMPLETED,
    EventType.MANUFACTURING_STARTED,
    EventType.CRYOPRESERVED,
    EventType.MANUFACTURING_COMPLETED,
    EventType.PRODUCT_RECEIVED_AT_SITE,
    EventType.LYMPHODEPLETION_STARTED,
    EventType.PRODUCT_THAWED,
    EventType.INFUSION_COMPLETED,
)
def update_plan(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    plan = state.plan
    changes: dict[str, Any] = {}
    detail = event.detail
    kind = event.event_type
    if kind is EventType.THERAPY_ORDERED and event.identifiers.order_id and not plan.order_id:
        changes["order_id"] = event.identifiers.order_id
    if isinstance(detail, ScheduleDetail):
        for name in ("slot_id", "slot_start", "planned_ship_at", "planned_infusion_at"):
            value = getattr(detail, name)
            if value is not None:
                changes[name] = value
    if kind is EventType.COLLECTION_COMPLETED:
        end = collection_end(event)
        if plan.collection_end is None or end < plan.collection_end:
            changes["collection_end"] = end
    if kind is EventType.MANUFACTURING_STARTED and event.identifiers.batch_id and not plan.batch_id:
        changes["batch_id"] = event.identifiers.batch_id
    if (
        kind in _PRODUCT_EVENTS
        and isinstance(detail, MaterialDetail | ClinicalDetail)
        and detail.expires_at is not None
    ):
        changes["expires_at"] = detail.expires_at
    first_time = {
        EventType.PRODUCT_THAWED: "thawed_at",
        EventType.LYMPHODEPLETION_STARTED: "ld_started_at",
        EventType.INFUSION_COMPLETED: "infused_at",
    }.get(kind)
    if first_time is not None:
        current = getattr(plan, first_time)
        if current is None or event.occurred_at < current:
            changes[first_time] = event.occurred_at
    if changes:
        state.plan = plan.model_copy(update=changes)
    return ()
