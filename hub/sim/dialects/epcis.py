"""GS1 EPCIS 2.0 JSON-LD documents (site pharmacy and collection-site labelling)."""

from __future__ import annotations

from typing import Any

from hub.sim.dialects.common import iso, local, to_json
from hub.sim.facts import EpcisDocument, EpcisEvent

_CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"v2v": "https://v2v-hub.org/epcis/"},
]
_BT = "urn:epcglobal:cbv:bt:0614141000017:"


def _offset(event: EpcisEvent, zone: str) -> str:
    offset = local(event.at, zone).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def _event(e: EpcisEvent, zone: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventID": e.event_id,
        "type": "ObjectEvent",
        "action": "ADD" if e.biz_step == "commissioning" else "OBSERVE",
        "bizStep": e.biz_step,
        "disposition": e.disposition,
        "epcList": list(e.epcs),
        "eventTime": iso(e.at, zone),
        "eventTimeZoneOffset": _offset(e, zone),
        "readPoint": {"id": e.read_point},
    }
    if e.biz_location:
        body["bizLocation"] = {"id": e.biz_location}
    hub: dict[str, Any] = {}
    if e.coi:
        hub["v2v:coi"] = e.coi
    if e.din:
        hub["v2v:din"] = e.din
    if e.batch:
        hub["v2v:batch"] = e.batch
    if e.material_type:
        hub["v2v:materialType"] = e.material_type
    if e.ilmd:
        body["ilmd"] = hub
    else:
        body.update(hub)
    if e.shipment_id:
        body["bizTransactionList"] = [{"type": "desadv", "bizTransaction": _BT + e.shipment_id}]
    if e.source:
        body["sourceList"] = [{"type": "possessing_party", "source": e.source}]
    if e.destination:
        body["destinationList"] = [{"type": "possessing_party", "destination": e.destination}]
    if e.readings:
        reports = [
            {"type": "Temperature", "time": iso(at, zone), "value": value, "uom": "CEL"}
            for at, value in e.readings
        ]
        body["sensorElementList"] = [
            {"sensorMetadata": {"deviceID": e.device_id}, "sensorReport": reports}
        ]
    if e.declared is not None:
        body["errorDeclaration"] = {
            "declarationTime": iso(e.declared, zone),
            "reason": f"urn:epcglobal:cbv:er:{e.declared_reason or 'incorrect_data'}",
            "correctiveEventIDs": list(e.corrective),
        }
    return body


def write(f: EpcisDocument) -> bytes:
    doc = {
        "@context": _CONTEXT,
        "id": f.doc_id,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(f.created, "UTC"),
        "epcisBody": {"eventList": [_event(e, f.zone) for e in f.events]},
    }
    return to_json(doc)
