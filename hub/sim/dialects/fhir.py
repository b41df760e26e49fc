"""HL7 FHIR R4 from the clinic's EHR: transaction Bundles with the (synthetic) Patient.

The Patient travels with names, MRN and birth date as a real EHR sends them; the hub's edge
pseudonymises them before the first write to Kafka (``FhirConnector.prepare_raw``).
"""

from __future__ import annotations

import uuid
from typing import Any

from hub.sim.dialects.common import iso, to_json
from hub.sim.facts import FhirCollection, FhirOrder, FhirProcedure, OrderRef, PatientIdentity

COI = "https://v2v-hub.org/fhir/NamingSystem/coi"
DIN = "https://v2v-hub.org/fhir/NamingSystem/din"
PROFILE = "https://v2v-hub.org/fhir/CodeSystem/product-profile"
PROCEDURE = "https://v2v-hub.org/fhir/CodeSystem/cell-therapy-procedure"
SNOMED = "http://snomed.info/sct"
_V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _url(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'v2v-sim-fhir/' + '/'.join(parts))}"


def _typed(code: str, system: str, value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": _V2, "code": code}]}, "system": system, "value": value}


def _patient(p: PatientIdentity) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "id": p.ref_id,
        "identifier": [_typed("MR", p.mrn_system, p.mrn)],
        "name": [{"use": "official", "family": p.family, "given": [p.given]}],
        "gender": p.gender,
        "birthDate": p.birth_date,
    }
    return _entry(_url(p.ref_id), resource)


def _entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    kind, rid = resource["resourceType"], resource["id"]
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}/{rid}"},
    }


def _bundle(bundle_id: str, *entries: dict[str, Any]) -> bytes:
    return to_json(
        {"resourceType": "Bundle", "id": bundle_id, "type": "transaction", "entry": list(entries)}
    )


def order(f: FhirOrder) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f.sr_id,
        "meta": {"versionId": str(f.version)},
        "identifier": [{"system": COI, "value": f.coi}, _typed("PLAC", f.order_system, f.order_id)],
        "status": f.status,
        "intent": "order",
        "code": {"coding": [{"system": PROFILE, "code": f.profile}]},
        "authoredOn": iso(f.authored, f.zone),
        "occurrenceDateTime": iso(f.planned_infusion, f.zone),
        "requester": {"reference": f.requester},
        "locationReference": [{"reference": f.location_ref}],
    }
    if f.last_updated is not None:
        resource["meta"]["lastUpdated"] = iso(f.last_updated, f.zone)
    if f.status == "revoked":  # a status update alone: the subject by its identifier
        resource["subject"] = {
            "identifier": {"system": f.patient.mrn_system, "value": f.patient.mrn}
        }
        return to_json(resource)
    resource["subject"] = {"reference": _url(f.patient.ref_id)}
    return _bundle(f"order-{f.sr_id}", _patient(f.patient), _entry(_url(f.sr_id), resource))


def collection(f: FhirCollection) -> bytes:
    ids = [{"system": COI, "value": f.coi}]
    if f.din:
        ids.append({"system": DIN, "value": f.din})
    ids.append({"system": f"{f.patient.mrn_system.rsplit('/', 1)[0]}/bags", "value": f.bag_id})
    resource = {
        "resourceType": "BiologicallyDerivedProduct",
        "id": f.bdp_id,
        "meta": {"versionId": "1"},
        "identifier": ids,
        "productCategory": "cells",
        "productCode": {
            "coding": [
                {
                    "system": "https://v2v-hub.org/fhir/CodeSystem/isbt128-product-code",
                    "code": "S1398",
                }
            ]
        },
        "status": "available",
        "quantity": 1,
        "collection": {
            "collector": {"reference": f.collector},
            "source": {"reference": _url(f.patient.ref_id)},
            "collectedPeriod": {"start": iso(f.start, f.zone), "end": iso(f.end, f.zone)},
        },
    }
    apheresis = {
        "resourceType": "Procedure",
        "id": f.proc_id,
        "meta": {"versionId": "1"},
        "identifier": [{"system": COI, "value": f.coi}],
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "127788007", "display": "Apheresis"}]},
        "subject": {"reference": _url(f.patient.ref_id)},
        "performedPeriod": {"start": iso(f.start, f.zone), "end": iso(f.procedure_end, f.zone)},
        "performer": [{"actor": {"reference": f.collector}}],
        "location": {"reference": f.location_ref},
    }
    return _bundle(
        f"collection-{f.bdp_id}",
        _patient(f.patient),
        _entry(_url(f.proc_id), apheresis),
        _entry(_url(f.bdp_id), resource),
    )


def _request(ref: OrderRef, f: FhirProcedure) -> dict[str, Any]:
    system = f"{f.patient.mrn_system.rsplit('/', 1)[0]}/orders"
    resource = {
        "resourceType": "ServiceRequest",
        "id": ref.sr_id,
        "meta": {"versionId": "1"},
        "identifier": [_typed("PLAC", system, ref.order_id)],
        "status": ref.status,
        "intent": "order",
        "subject": {"reference": _url(f.patient.ref_id)},
    }
    return _entry(_url(ref.sr_id), resource)


def procedure(f: FhirProcedure) -> bytes:
    period = {"start": iso(f.start, f.zone)}
    if f.status == "completed":
        period["end"] = iso(f.end, f.zone)
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": f.proc_id,
        "meta": {"versionId": "1"},
        "identifier": [{"system": COI, "value": f.coi}],
        "status": f.status,
        "code": {"coding": [{"system": PROCEDURE, "code": f.kind}]},
        "subject": {"reference": _url(f.patient.ref_id)},
        "performedPeriod": period,
        "performer": [{"actor": {"reference": f.performer}}],
        "location": {"reference": f.location_ref},
    }
    entries = [_patient(f.patient)]
    if f.based_on is not None:
        resource["basedOn"] = [{"reference": _url(f.based_on.sr_id)}]
        entries.append(_request(f.based_on, f))
    entries.append(_entry(_url(f.proc_id), resource))
    return _bundle(f"{f.kind}-{f.proc_id}", *entries)
