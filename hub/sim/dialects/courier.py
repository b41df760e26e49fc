"""Courier tracking webhooks (JSON, UN/ECE Recommendation 24 status codes)."""

from __future__ import annotations

from typing import Any

from hub.sim.dialects.common import iso, to_json
from hub.sim.facts import CourierStatus

_TEXT = {
    "12": "Cleared by customs",
    "13": "Pick-up completed",
    "17": "Customs clearance refused",
    "18": "Damaged in the course of transport",
    "20": "Delayed",
    "21": "Delivery completed",
    "23": "Delivery not completed",
    "24": "Departure completed",
    "37": "Found",
    "49": "Lost",
}


def write(f: CourierStatus) -> bytes:
    body: dict[str, Any] = {"message_id": f.message_id}
    if f.code == "ETA":
        body["type"] = "eta_update"
    else:
        body.update(type="status", status_code=f.code, status_text=_TEXT[f.code])
    if f.customs_hold:
        body.update(customs_hold=True, status_text="Delayed: held by customs")
    body.update(
        event_time=iso(f.at, f.zone),
        shipment_id=f.shipment_id,
        tracking_number=f.tracking,
        carrier=f.carrier,
        lane=f.lane,
        coi=f.coi,
    )
    if f.din:
        body["din"] = f.din
    if f.din_check:
        body["din_check"] = f.din_check
    if f.eta:
        body["eta"] = iso(f.eta, f.zone)
    if f.reason:
        body["reason"] = f.reason
    if f.place:
        body["location"] = dict(zip(("id", "name", "country"), f.place, strict=True))
    if f.agent:
        body["agent"] = {"id": f.agent}
    custody = {
        "from": f.custody_from,
        "to": f.custody_to,
        "released_by": f.released_by,
        "identity_scanned": f.release_scanned,
    }
    if any(v is not None for v in custody.values()):
        body["custody"] = {k: v for k, v in custody.items() if v is not None}
    if f.signer:
        body["signature"] = {
            "name": f.signer,
            "signed_at": iso(f.at, f.zone),
            "identity_scanned": bool(f.signer_scanned),
        }
    data = to_json(body)
    return data[: len(data) * 2 // 3] if f.truncated else data
