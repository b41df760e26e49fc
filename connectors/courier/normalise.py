"""Courier tracking webhooks (JSON) with UN/ECE Recommendation 24 status codes.

One webhook call is one status of one shipment. The mapping (see README.md beside this file):

======  ===========================  ===============================================
code    Rec 24 meaning               canonical events
======  ===========================  ===============================================
13      pick-up completed            SHIPMENT_STATUS(PICKED_UP) + CUSTODY_RELEASED
24      departure completed          SHIPMENT_DEPARTED
20      delayed                      SHIPMENT_STATUS(DELAYED | CUSTOMS_HOLD)
12      cleared by customs           SHIPMENT_STATUS(CUSTOMS_CLEARED)
17      customs clearance refused    SHIPMENT_STATUS(CUSTOMS_REFUSED)
21      delivery completed           SHIPMENT_DELIVERED [+ CUSTODY_ACCEPTED if signed]
ETA     (webhook type eta_update)    SHIPMENT_ETA_UPDATED
======  ===========================  ===============================================

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

REC24_STATUS: dict[str, str] = {
    "12": "CUSTOMS_CLEARED",
    "13": "PICKED_UP",
    "17": "CUSTOMS_REFUSED",
    "20": "DELAYED",
    "21": "DELIVERED",
    "24": "DEPARTED",
}
# CBV bizStep / disposition for each status, so courier events line up with EPCIS feeds.
_CBV: dict[str, tuple[str, str]] = {
    "PICKED_UP": ("shipping", "in_transit"),
    "DEPARTED": ("departing", "in_transit"),
    "DELAYED": ("departing", "in_transit"),
    "CUSTOMS_HOLD": ("inspecting", "in_transit"),
    "CUSTOMS_CLEARED": ("inspecting", "in_transit"),
    "CUSTOMS_REFUSED": ("inspecting", "unavailable"),
    "DELIVERED": ("arriving", "in_progress"),
    "ETA_UPDATED": ("departing", "in_transit"),
}


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
        status = "ETA_UPDATED" if code == "ETA" else REC24_STATUS.get(code)
        if status is None:
            raise NormalisationError(
                f"unsupported Rec 24 status code {code!r} "
                f"(supported: {', '.join(sorted(REC24_STATUS))})",
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
        event_type = {
            "DEPARTED": EventType.SHIPMENT_DEPARTED,
            "DELIVERED": EventType.SHIPMENT_DELIVERED,
            "ETA_UPDATED": EventType.SHIPMENT_ETA_UPDATED,
        }.get(status, EventType.SHIPMENT_STATUS)
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
