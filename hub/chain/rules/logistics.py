"""Shipment rules fed by courier status."""

from __future__ import annotations

from collections.abc import Iterable

from hub.cases.models import Severity
from hub.chain.catalogue import entry, rule
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.events.models import Event, EventType, ShipmentDetail

CUSTOMS_HOLD = entry(
    "CUSTOMS_HOLD",
    "Shipment held or refused by customs",
    Severity.HIGH,
    "logistics",
    evidence=("courier status event (Rec 24 code 17 or hold status)",),
    playbook=(
        "Obtain the customs reference and the documents requested from the broker",
        "Check the remaining stability / dry-shipper hold time against the expected release",
        "Inform the receiving site and manufacturing planning of the new ETA",
    ),
)

_HOLD_STATUSES = frozenset({"CUSTOMS_HOLD", "CUSTOMS_REFUSED"})


@rule(
    EventType.SHIPMENT_STATUS,
    EventType.SHIPMENT_DEPARTED,
    EventType.SHIPMENT_DELIVERED,
    EventType.SHIPMENT_ETA_UPDATED,
)
def track_shipment(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    shipment_id = event.identifiers.shipment_id
    if not isinstance(detail, ShipmentDetail) or shipment_id is None:
        return ()
    state.shipments[shipment_id] = detail.status
    if detail.status not in _HOLD_STATUSES:
        return ()
    verb = "refused clearance" if detail.status == "CUSTOMS_REFUSED" else "held"
    return (
        Finding(
            code=CUSTOMS_HOLD.code,
            coi_id=state.coi_id,
            subject=shipment_id,
            occurred_at=event.occurred_at,
            summary=(
                f"Shipment {shipment_id} {verb} by customs"
                + (f": {detail.reason}" if detail.reason else "")
                + (f" (Rec 24 code {detail.status_code})" if detail.status_code else "")
            ),
            evidence_event_ids=[event.event_id],
        ),
    )
