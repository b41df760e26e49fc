"""What a courier says happened to the material: SHIPMENT_DAMAGED, SHIPMENT_LOST,
DELIVERY_NOT_COMPLETED.

Fed by SHIPMENT_STATUS events whose status is of UN/ECE Recommendation 24 class damage, loss,
refusal or delivery-not-completed (``hub.chain.vocab``; the courier connector classifies every
Rec 24 code). Runs after ``logistics`` has booked the shipment's track, so it knows whether the
shipment was already delivered at the status's event time.

Each is decided by the courier's record itself (alarm-at-once). A loss or a failed delivery
dated after the shipment's delivery contradicts the record of delivery and raises nothing (once
judged in event-time order, an at-once alarm it does not bear out is withdrawn); damage is raised
whenever it is reported, since damage is often found at the consignee's receipt inspection.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import CatalogueEntry, Timing, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.chain.vocab import DELIVERY_FAILED, DELIVERY_REFUSED, norm
from hub.chain.vocab import SHIPMENT_DAMAGED as _DAMAGED_STATUSES
from hub.chain.vocab import SHIPMENT_LOST as _LOST_STATUSES
from hub.events.models import Event, EventType, ShipmentDetail

SHIPMENT_DAMAGED = entry(
    "SHIPMENT_DAMAGED",
    "Shipment reported damaged",
    Severity.CRITICAL,
    "QA / QP + logistics",
    evidence=(
        "courier status event (Rec 24 damage class, e.g. code 18 or 3)",
        "carrier damage report",
        "logger series of the shipment",
    ),
    playbook=(
        "Quarantine the material on receipt: no processing or infusion before a QA / QP decision",
        "Obtain the carrier's damage report and photos; check the bag, the seal and the dry "
        "shipper's LN2 level and logger series",
        "QA / QP assess sterility and viability impact and decide; inform the treating physician "
        "and plan re-collection or re-manufacture if the material cannot be used",
    ),
    timing=Timing.AT_ONCE,
)
SHIPMENT_LOST = entry(
    "SHIPMENT_LOST",
    "Shipment reported lost",
    Severity.CRITICAL,
    "logistics + site",
    evidence=("courier status event (Rec 24 loss class, e.g. code 49 or 36)", "last known scan"),
    playbook=(
        "Open a trace with the carrier's escalation desk: last scan, location, custody holder",
        "Inform the treating physician, the receiving site and manufacturing planning; prepare "
        "for re-collection or a new slot",
        "If the material is found, verify its chain of identity and temperature record before "
        "any use",
    ),
    timing=Timing.AT_ONCE,
)
DELIVERY_NOT_COMPLETED = entry(
    "DELIVERY_NOT_COMPLETED",
    "Delivery not completed or refused",
    Severity.HIGH,
    "logistics + site",
    evidence=("courier status event (Rec 24 delivery-not-completed or refusal class)",),
    playbook=(
        "Get the reason and the next delivery attempt from the carrier",
        "Confirm the receiving site can accept (staff, opening hours, LN2 storage) and why it "
        "refused, if it did",
        "Check the remaining stability / dry-shipper hold time against the next attempt",
    ),
    timing=Timing.AT_ONCE,
)


@rule(EventType.SHIPMENT_STATUS)
def shipment_condition(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    detail = event.detail
    sid = event.identifiers.shipment_id
    if not isinstance(detail, ShipmentDetail) or sid is None:
        return ()
    word = norm(detail.status)
    track = state.shipment_tracks.get(sid)
    delivered = (
        track is not None
        and track.delivered_at is not None
        and track.delivered_at <= event.occurred_at
    )
    if word in _DAMAGED_STATUSES:
        return (_finding(SHIPMENT_DAMAGED, state, event, detail, sid, "reported damaged"),)
    if delivered:
        return ()
    if word in _LOST_STATUSES:
        return (_finding(SHIPMENT_LOST, state, event, detail, sid, "reported lost"),)
    if word in DELIVERY_REFUSED:
        return (_finding(DELIVERY_NOT_COMPLETED, state, event, detail, sid, "delivery refused"),)
    if word in DELIVERY_FAILED:
        return (
            _finding(DELIVERY_NOT_COMPLETED, state, event, detail, sid, "delivery not completed"),
        )
    return ()


def _finding(
    item: CatalogueEntry,
    state: ChainState,
    event: Event,
    detail: ShipmentDetail,
    sid: str,
    what: str,
) -> Finding:
    source = ", ".join(
        part
        for part in (
            f"Rec 24 code {detail.status_code}" if detail.status_code else "",
            f"carrier {detail.carrier}" if detail.carrier else "",
        )
        if part
    )
    summary = (
        f"Shipment {sid} {what}"
        + (f": {detail.reason}" if detail.reason else "")
        + (f" ({source})" if source else "")
    )
    return item.finding(state, sid, event.occurred_at, summary, [event.event_id])
