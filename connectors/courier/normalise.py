"""Courier tracking webhooks (JSON) with UN/ECE Recommendation 24 status codes.

One webhook call is one status of one shipment. Every UN/ECE Rec 24 code (``rec24.py``: code,
name, class) becomes at least one canonical event carrying the code in ``detail.status_code``;
``detail.status`` is the code's own word where the chain reads it (13 PICKED_UP, 24 DEPARTED,
20 DELAYED or CUSTOMS_HOLD, 12 CUSTOMS_CLEARED, 17 CUSTOMS_REFUSED), else its class's
(``_CLASS_STATUS``: IN_TRANSIT, ARRIVED, DELIVERED, EXCEPTION, DAMAGED, LOST, REFUSED,
DELIVERY_NOT_COMPLETED, CUSTOMS_CONTROL, OTHER). Event types: 13 adds CUSTODY_RELEASED, 24 is
SHIPMENT_DEPARTED, class delivery is SHIPMENT_DELIVERED (+ CUSTODY_ACCEPTED when signed), the
webhook type ``eta_update`` is SHIPMENT_ETA_UPDATED, everything else SHIPMENT_STATUS. The full
table is in README.md beside this file.

A code that is not in Rec 24 (a carrier's own code) is rejected: UNKNOWN_STATUS on
``status_code``. An arrival is not a delivery: the consignee has not taken the material.

Custody: at pick-up the shipper releases the material into transport towards the consignee
(the handover id is the shipment id); the consignee's receiver signature on delivery is the
accepting side of the same handover. A delivery without signature leaves the handover open until
the receiving site's own system accepts it, or the hub raises CUSTODY_GAP.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from connectors.base import Connector, RawMessage
from connectors.courier.rec24 import REC24, Rec24Class
from connectors.fields import Fields
from connectors.jsonreader import parse_json_object
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    CustodyDetail,
    Detail,
    Event,
    EventType,
    Identifiers,
    Location,
    ShipmentDetail,
)

# The status word of the codes the chain reads one by one; every other code gets its class's.
_CODE_STATUS: dict[str, str] = {
    "12": "CUSTOMS_CLEARED",
    "13": "PICKED_UP",
    "17": "CUSTOMS_REFUSED",
    "20": "DELAYED",
    "24": "DEPARTED",
}
_CLASS_STATUS: dict[Rec24Class, str] = {
    Rec24Class.PROGRESS: "IN_TRANSIT",
    Rec24Class.ARRIVAL: "ARRIVED",
    Rec24Class.DELIVERY: "DELIVERED",
    Rec24Class.EXCEPTION: "EXCEPTION",
    Rec24Class.DAMAGE: "DAMAGED",
    Rec24Class.LOSS: "LOST",
    Rec24Class.REFUSAL: "REFUSED",
    Rec24Class.DELIVERY_NOT_COMPLETED: "DELIVERY_NOT_COMPLETED",
    Rec24Class.CUSTOMS: "CUSTOMS_CONTROL",
    Rec24Class.OTHER: "OTHER",
}
# CBV bizStep / disposition for each status, so courier events line up with EPCIS feeds. A
# status about the carrier's equipment says nothing of the material's disposition.
_CBV: dict[str, tuple[str, str | None]] = {
    "PICKED_UP": ("shipping", "in_transit"),
    "DEPARTED": ("departing", "in_transit"),
    "DELAYED": ("departing", "in_transit"),
    "CUSTOMS_HOLD": ("inspecting", "in_transit"),
    "CUSTOMS_CLEARED": ("inspecting", "in_transit"),
    "CUSTOMS_REFUSED": ("inspecting", "unavailable"),
    "CUSTOMS_CONTROL": ("inspecting", "in_transit"),
    "DELIVERED": ("arriving", "in_progress"),
    "ETA_UPDATED": ("departing", "in_transit"),
    "IN_TRANSIT": ("transporting", "in_transit"),
    "ARRIVED": ("arriving", "in_transit"),
    "EXCEPTION": ("transporting", "in_transit"),
    "DAMAGED": ("inspecting", "damaged"),
    "LOST": ("transporting", "unavailable"),
    "REFUSED": ("arriving", "in_transit"),
    "DELIVERY_NOT_COMPLETED": ("arriving", "in_transit"),
    "OTHER": ("other", None),
}


_EVENT_TYPE: dict[str, EventType] = {
    "DEPARTED": EventType.SHIPMENT_DEPARTED,
    "DELIVERED": EventType.SHIPMENT_DELIVERED,
    "ETA_UPDATED": EventType.SHIPMENT_ETA_UPDATED,
}


def status_of(code: str) -> str | None:
    """The ``status`` word of a Rec 24 code; None for a code that is not in Rec 24."""
    entry = REC24.get(code)
    if entry is None:
        return None
    return _CODE_STATUS.get(code) or _CLASS_STATUS[entry.cls]


class CourierConnector(Connector):
    name: ClassVar[str] = "courier"
    system: ClassVar[str] = "courier-tracking"

    def normalise(self, message: RawMessage) -> list[Event]:
        data = parse_json_object(message.payload, self.name)
        f = Fields(data, self.name)
        message_id = f.req("message_id")
        f.message_id = message_id
        kind = f.text("type", required=False) or "status"
        if kind not in {"status", "eta_update"}:
            raise NormalisationError(
                f"unknown webhook type {kind!r} (expected 'status' or 'eta_update')",
                partner=self.name,
                message_id=message_id,
                field="type",
                code="UNKNOWN_TYPE",
            )
        code = "ETA" if kind == "eta_update" else f.req("status_code")
        status = "ETA_UPDATED" if code == "ETA" else status_of(code)
        if status is None:
            raise NormalisationError(
                f"status code {code!r} is not a UN/ECE Recommendation 24 transport status "
                f"(the hub knows codes 1-{len(REC24)}; see connectors/courier/rec24.py)",
                partner=self.name,
                message_id=message_id,
                field="status_code",
                code="UNKNOWN_STATUS",
            )
        if status == "DELAYED" and f.flag("customs_hold"):
            status = "CUSTOMS_HOLD"

        coi = f.coi("coi", pattern=self.config.coi_pattern)
        other: dict[str, str] = {}
        if t := f.text("tracking_number", required=False):
            other["tracking_number"] = t
        # The label's DIN check character goes to the chain, which raises INVALID_IDENTIFIER
        # when it fails: the handover this message reports really happened and is kept. A DIN
        # that is not even well formed rejects the message.
        if check := f.text("din_check", required=False):
            other["din_check"] = check
        identifiers = Identifiers(shipment_id=f.req("shipment_id"), din=f.din("din"), other=other)
        occurred_at = f.req_time("event_time")
        carrier = f.req("carrier")
        lane = f.text("lane", required=False)
        eta = f.time("eta", required=kind == "eta_update")
        loc = self._location(data.get("location"), f)
        biz_step, disposition = _CBV[status]
        envelope = replace(
            self.envelope(message, message_id),
            coi_id=coi,
            identifiers=identifiers,
            location=loc,
            biz_step=biz_step,
            disposition=disposition,
        )
        courier_actor = Actor(
            id=f.text("agent.id", required=False) or carrier, role="courier", organisation=carrier
        )

        def make(index: int, event_type: EventType, detail: Detail, actor: Actor) -> Event:
            return replace(envelope, actor=actor).event(index, event_type, occurred_at, detail)

        shipment = ShipmentDetail(
            status_code=None if code == "ETA" else code,
            status=status,
            carrier=carrier,
            lane=lane,
            eta=eta,
            reason=f.text("reason", required=False),
            receiver_signature=f.text("signature.name", required=False),
        )
        event_type = _EVENT_TYPE.get(status, EventType.SHIPMENT_STATUS)
        events = [make(0, event_type, shipment, courier_actor)]
        if status == "PICKED_UP":
            events.append(
                make(
                    1,
                    EventType.CUSTODY_RELEASED,
                    self._release(f, identifiers, lane),
                    courier_actor,
                )
            )
        elif status == "DELIVERED" and shipment.receiver_signature:
            events.append(self._acceptance(f, identifiers, lane, make))
        return events

    def _location(self, value: Any, f: Fields) -> Location | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise NormalisationError(
                "'location' must be an object",
                partner=self.name,
                message_id=f.message_id,
                field="location",
            )
        return Location(
            id=f.req("location.id"),
            name=f.text("location.name", required=False),
            country=f.text("location.country", required=False),
        )

    def _release(self, f: Fields, ids: Identifiers, lane: str | None) -> CustodyDetail:
        return CustodyDetail(
            handover_id=ids.shipment_id or "",
            releasing_party=f.req("custody.from"),
            receiving_party=f.req("custody.to"),
            lane=lane,
            verified_by=f.text("custody.released_by", required=False),
            identity_scanned=f.flag("custody.identity_scanned"),
        )

    def _acceptance(self, f: Fields, ids: Identifiers, lane: str | None, make: Any) -> Event:
        signer = f.req("signature.name")
        signed_at: datetime | None = f.time("signature.signed_at", required=False)
        receiver = (
            f.text("custody.to", required=False) or f.text("consignee", required=False) or signer
        )
        detail = CustodyDetail(
            handover_id=ids.shipment_id or "",
            releasing_party=f.text("carrier", required=False),
            receiving_party=receiver,
            lane=lane,
            verified_by=signer,
            identity_scanned=f.flag("signature.identity_scanned"),
            signature=f"{signer}@{signed_at.isoformat()}" if signed_at else signer,
        )
        actor = Actor(id=signer, role="receiver", organisation=receiver)
        event: Event = make(1, EventType.CUSTODY_ACCEPTED, detail, actor)
        return event


CONNECTOR = CourierConnector
