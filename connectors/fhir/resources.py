"""One FHIR resource -> canonical event drafts (ServiceRequest, Procedure,
BiologicallyDerivedProduct), or the reason it is passed over. The mapping tables are in README.md
beside this file.

A resource whose code the partner does not map (``config.FhirPartnerConfig``) is passed over
before anything else of it is read, so an unrelated order or procedure in a Bundle never rejects
the message, however incomplete it is; a mapped one that cannot be read still does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from connectors.fhir.codes import (
    IDENTIFIER_TYPE_SYSTEM,
    ORDER_ACTIVE_STATUSES,
    PLACER_TYPE,
    STARTED_STATUSES,
    ProcedureKind,
)
from connectors.fhir.config import FhirPartnerConfig
from connectors.fhir.directory import Directory, Entry
from connectors.fhir.patients import Patients
from connectors.fhir.reader import Ident, Reader
from connectors.fhir.versions import detect_version
from connectors.jsonreader import join
from hub.errors import InvalidIdentifierError, NormalisationError
from hub.events.identifiers import parse_din, validate_coi
from hub.events.models import (
    Actor,
    ClinicalDetail,
    CorrectionDetail,
    Detail,
    EventType,
    Identifiers,
    Location,
    MaterialDetail,
    PatientStatusDetail,
    ScheduleDetail,
)


@dataclass(frozen=True)
class Draft:
    """A canonical event before it gets its id and source."""

    event_type: EventType
    occurred_at: datetime
    detail: Detail
    coi: str | None
    patient_ref: str | None
    identifiers: Identifiers
    actor: Actor | None = None
    location: Location | None = None


class PassedOver(StrEnum):
    """Why a resource of a type the connector reads yields no event (counted, never an error)."""

    UNMAPPED_CODE = "unmapped-code"
    DO_NOT_PERFORM = "do-not-perform"
    NOT_AN_ORDER = "not-an-order"
    STATUS = "status-without-event"
    NO_COLLECTION_TIME = "no-collection-time"


@dataclass(frozen=True)
class Scope:
    """One resource being mapped, with what it needs from the rest of the message."""

    entry: Entry
    kind: str
    key: str
    r: Reader
    directory: Directory
    patients: Patients
    coi_pattern: str
    received_at: datetime
    partner: FhirPartnerConfig

    @property
    def res(self) -> dict[str, Any]:
        return self.entry.resource

    @property
    def path(self) -> str:
        return self.entry.path

    def at(self, key: str) -> str:
        return join(self.path, key)


def service_request(s: Scope) -> list[Draft] | PassedOver:
    """A therapy order: its code or orderDetail maps to a product profile, ``doNotPerform`` is
    not true, and (but for entered-in-error, which voids whatever an earlier version gave) its
    intent is one of the partner's order intents."""
    r, res = s.r, s.res
    if res.get("doNotPerform") is True:
        return PassedOver.DO_NOT_PERFORM  # an order not to do something is no therapy order
    profile = _product_profile(s)
    if profile is None:
        return PassedOver.UNMAPPED_CODE
    version = detect_version(s)
    status = r.req(res, "status", s.path)
    coi = _coi(s, _own_cois(s))
    ids = _identifiers(s, version, status, order_id=_order_id(s.entry, r, s.partner))
    patient = s.patients.patient_ref(s.entry, "subject")
    if status == "entered-in-error":
        return [_correction(s, coi, patient, ids)]
    if r.text(res, "intent", s.path) not in s.partner.order_intents:
        return PassedOver.NOT_AN_ORDER
    if status == "revoked":
        revoked = PatientStatusDetail(status="ORDER_REVOKED", reason="therapy order revoked")
        when = _changed_at(s) or r.time(res, "authoredOn", s.path) or s.received_at
        return [Draft(EventType.PATIENT_STATUS_CHANGED, when, revoked, coi, patient, ids)]
    if status not in ORDER_ACTIVE_STATUSES:
        return PassedOver.STATUS
    authored = r.time(res, "authoredOn", s.path)
    if authored is None:
        raise r.missing(s.at("authoredOn"))
    planned = r.time(res, "occurrenceDateTime", s.path)
    period = r.obj(res, "occurrencePeriod", s.path)
    if planned is None and period is not None:
        planned = r.time(period, "start", s.at("occurrencePeriod"))
    detail = ScheduleDetail(
        product_profile=profile,
        planned_infusion_at=planned,
        treatment_site=_treatment_site(s, version),
    )
    actor = s.patients.actor(
        r.obj(res, "requester", s.path), s.at("requester"), s.entry, "requester"
    )
    return [Draft(EventType.THERAPY_ORDERED, authored, detail, coi, patient, ids, actor)]


def procedure(s: Scope) -> list[Draft] | PassedOver:
    r, res = s.r, s.res
    codes = r.codings(r.obj(res, "code", s.path), s.at("code"))
    kinds = [k for sys, c in codes if sys and (k := s.partner.procedure(sys, c)) is not None]
    if not kinds:
        return PassedOver.UNMAPPED_CODE  # not a vein-to-vein procedure
    kind = kinds[0]
    version = detect_version(s)
    status = r.req(res, "status", s.path)
    requests = _linked(s, "basedOn", "ServiceRequest")
    coi = _coi(s, [*_own_cois(s), *_request_cois(s, requests)])
    order_id = next((o for req in requests if (o := _order_id(req, r, s.partner))), None)
    ids = _identifiers(s, version, status, order_id=order_id)
    patient = s.patients.patient_ref(s.entry, "subject")
    if status == "entered-in-error":
        return [_correction(s, coi, patient, ids)]
    statuses, event_type, moment = _PROCEDURE_EVENTS[kind]
    if status not in statuses:
        return PassedOver.STATUS
    prefix = "occurrence" if version == "R5" else "performed"
    start, end = _times(s, prefix)
    when = start if moment == "start" else end
    if when is None:
        raise r.missing(s.at(f"{prefix}[x]"))
    detail: Detail = (
        MaterialDetail(material_type=kind.value, collection_end=when)
        if kind is ProcedureKind.APHERESIS
        else ClinicalDetail(procedure=kind.value, status=status)
    )
    location = s.patients.location(r.obj(res, "location", s.path), s.at("location"), s.entry)
    return [Draft(event_type, when, detail, coi, patient, ids, _performer(s), location)]


def biologically_derived_product(s: Scope) -> list[Draft] | PassedOver:
    r, res = s.r, s.res
    categories = s.partner.product_categories
    if categories is not None and _category(res) not in categories:
        return PassedOver.UNMAPPED_CODE
    version = detect_version(s)
    requests = _linked(s, "request", "ServiceRequest")
    coi = _coi(s, [*_own_cois(s), *_request_cois(s, requests)])
    collection = r.obj(res, "collection", s.path)
    if collection is None:
        return PassedOver.NO_COLLECTION_TIME
    where = s.at("collection")
    collected = r.time(collection, "collectedDateTime", where)
    period = r.obj(collection, "collectedPeriod", where)
    if collected is None and period is not None:
        at = join(where, "collectedPeriod")
        collected = r.time(period, "end", at) or r.time(period, "start", at)
    din = _din(s)
    if version == "R5":
        category = _coding_code(s, "productCategory")
        status = _coding_code(s, "productStatus")
        expires = r.time(res, "expirationDate", s.path)
    else:
        category = r.text(res, "productCategory", s.path)
        status = r.text(res, "status", s.path)
        expires = None
    ids = _identifiers(
        s,
        version,
        status,
        order_id=next((o for req in requests if (o := _order_id(req, r, s.partner))), None),
        din=din,
        product_code=next(
            (c for _, c in r.codings(r.obj(res, "productCode", s.path), s.at("productCode"))), None
        ),
    )
    if collected is None:
        return PassedOver.NO_COLLECTION_TIME
    others = [
        i
        for i in r.identifiers(res, "identifier", s.path)
        if i.system not in s.partner.coi_systems and i.system not in s.partner.din_systems
    ]
    detail = MaterialDetail(
        material_type=category or "unspecified",
        quantity=r.number(res, "quantity", s.path) if version != "R5" else None,
        collection_end=collected,
        expires_at=expires,
        container_id=others[0].value if others else None,
    )
    patient = s.patients.patient_ref(Entry(where, collection), "source")
    actor = s.patients.actor(
        r.obj(collection, "collector", where), join(where, "collector"), s.entry, "collector"
    )
    return [Draft(EventType.COLLECTION_COMPLETED, collected, detail, coi, patient, ids, actor)]


# procedure -> (statuses that yield the event, event type, which end of the period it happens at)
_PROCEDURE_EVENTS: dict[ProcedureKind, tuple[frozenset[str], EventType, str]] = {
    ProcedureKind.APHERESIS: (frozenset({"completed"}), EventType.COLLECTION_COMPLETED, "end"),
    ProcedureKind.LYMPHODEPLETION: (STARTED_STATUSES, EventType.LYMPHODEPLETION_STARTED, "start"),
    ProcedureKind.THAW: (frozenset({"completed"}), EventType.PRODUCT_THAWED, "end"),
    ProcedureKind.INFUSION: (frozenset({"completed"}), EventType.INFUSION_COMPLETED, "end"),
}

HANDLERS: dict[str, Callable[[Scope], list[Draft] | PassedOver]] = {
    "ServiceRequest": service_request,
    "Procedure": procedure,
    "BiologicallyDerivedProduct": biologically_derived_product,
}


# --- shared pieces ---------------------------------------------------------------------------


def _identifiers(
    s: Scope,
    version: str | None,
    status: str | None,
    *,
    order_id: str | None = None,
    din: str | None = None,
    product_code: str | None = None,
) -> Identifiers:
    other = {"fhir_version": version or "R4/R5"}
    rid = s.res.get("id")
    if isinstance(rid, str) and rid:
        other["fhir_resource"] = f"{s.kind}/{rid}"
    if status:
        other["fhir_status"] = status
    return Identifiers(din=din, order_id=order_id, product_code=product_code, other=other)


def _correction(s: Scope, coi: str | None, patient: str | None, ids: Identifiers) -> Draft:
    """entered-in-error: every event from this resource (any version) is void."""
    changed = _changed_at(s)
    target = ids.other.get("fhir_resource", s.key)
    detail = CorrectionDetail(
        corrected_event_ids=[target], declared_at=changed, reason="entered-in-error"
    )
    return Draft(EventType.RECORD_CORRECTED, changed or s.received_at, detail, coi, patient, ids)


def _performer(s: Scope) -> Actor | None:
    """The first performer, its role from ``function`` (else "performer")."""
    first = next(iter(s.r.objects(s.res, "performer", s.path)), None)
    if first is None:
        return None
    at, performer = first
    function = s.r.codings(s.r.obj(performer, "function", at), join(at, "function"))
    role = function[0][1] if function else "performer"
    return s.patients.actor(s.r.obj(performer, "actor", at), join(at, "actor"), s.entry, role)


def _changed_at(s: Scope) -> datetime | None:
    meta = s.r.obj(s.res, "meta", s.path)
    return s.r.time(meta, "lastUpdated", s.at("meta")) if meta is not None else None


def _times(s: Scope, prefix: str) -> tuple[datetime | None, datetime | None]:
    """(start, end) from ``<prefix>DateTime`` or ``<prefix>Period``; a period without end ends at
    its start (the earlier time: stability clocks then err on the safe side)."""
    r = s.r
    moment = r.time(s.res, f"{prefix}DateTime", s.path)
    if moment is not None:
        return moment, moment
    period = r.obj(s.res, f"{prefix}Period", s.path)
    if period is None:
        return None, None
    at = s.at(f"{prefix}Period")
    start, end = r.time(period, "start", at), r.time(period, "end", at)
    return start or end, end or start


def _own_cois(s: Scope) -> list[tuple[str, str]]:
    return [
        (i.path, i.value)
        for i in s.r.identifiers(s.res, "identifier", s.path)
        if i.system in s.partner.coi_systems
    ]


def _request_cois(s: Scope, requests: Iterable[Entry]) -> list[tuple[str, str]]:
    return [
        (i.path, i.value)
        for req in requests
        for i in s.r.identifiers(req.resource, "identifier", req.path)
        if i.system in s.partner.coi_systems
    ]


def _coi(s: Scope, found: list[tuple[str, str]]) -> str | None:
    cois: dict[str, str] = {}
    for where, raw in found:
        try:
            cois.setdefault(validate_coi(raw, s.coi_pattern), where)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=s.r.partner, message_id=s.r.message_id, field=where
            ) from exc
    if len(cois) > 1:
        raise NormalisationError(
            f"{s.kind} is linked to more than one COI: {', '.join(sorted(cois))}",
            partner=s.r.partner,
            message_id=s.r.message_id,
            field=", ".join(sorted(set(cois.values()))),
            code="COI_CONFLICT",
        )
    return next(iter(cois), None)


def _din(s: Scope) -> str | None:
    r, res = s.r, s.res
    found = [
        i for i in r.identifiers(res, "identifier", s.path) if i.system in s.partner.din_systems
    ]
    found += r.identifiers(res, "biologicalSourceEvent", s.path)
    dins: dict[str, str] = {}
    for ident in found:
        try:
            din = parse_din(ident.value)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=r.partner, message_id=r.message_id, field=ident.path
            ) from exc
        dins.setdefault(f"={din.core}{din.flags or '00'}", ident.path)
    if len(dins) > 1:
        raise NormalisationError(
            f"product names more than one DIN: {', '.join(sorted(dins))}",
            partner=r.partner,
            message_id=r.message_id,
            field=", ".join(sorted(set(dins.values()))),
            code="DIN_CONFLICT",
        )
    return next(iter(dins), None)


def _linked(s: Scope, key: str, kind: str) -> list[Entry]:
    """The ``kind`` resources inside this message that the ``key`` references point at."""
    out: list[Entry] = []
    for ref_path, ref in s.r.objects(s.res, key, s.path):
        reference = s.r.text(ref, "reference", ref_path)
        target = s.directory.resolve(reference, s.entry) if reference else None
        if target is not None and target.resource.get("resourceType") == kind:
            out.append(target)
    return out


def _order_id(request: Entry, r: Reader, partner: FhirPartnerConfig) -> str | None:
    """A ServiceRequest's order number: its identifier in one of the partner's order id systems,
    else its placer identifier, else its first non-COI identifier, else ``ServiceRequest/<id>``."""
    ids: list[Ident] = [
        i
        for i in r.identifiers(request.resource, "identifier", request.path)
        if i.system not in partner.coi_systems
    ]
    named = next((i for i in ids if i.system in partner.order_id_systems), None)
    if named is not None:
        return named.value
    placer = next((i for i in ids if (IDENTIFIER_TYPE_SYSTEM, PLACER_TYPE) in i.type_codes), None)
    if placer or ids:
        return (placer or ids[0]).value
    rid = request.resource.get("id")
    return f"ServiceRequest/{rid}" if isinstance(rid, str) and rid else None


def _product_profile(s: Scope) -> str | None:
    """The product profile the first mapped coding of ``code`` (R4 CodeableConcept, R5
    CodeableReference) or ``orderDetail`` (R4 CodeableConcept, R5 ``parameter[]``) names; read
    before the version is known, so an unrelated order is passed over whatever its shape."""
    r, res = s.r, s.res
    code = r.obj(res, "code", s.path)
    codes: list[tuple[str | None, str]] = []
    if code is not None and "concept" in code:
        codes += r.codings(r.obj(code, "concept", s.at("code")), join(s.at("code"), "concept"))
    else:
        codes += r.codings(code, s.at("code"))
    for detail_path, detail in r.objects(res, "orderDetail", s.path):
        if "parameter" in detail:
            for param_path, param in r.objects(detail, "parameter", detail_path):
                at = join(param_path, "valueCodeableConcept")
                codes += r.codings(r.obj(param, "valueCodeableConcept", param_path), at)
        else:
            codes += r.codings(detail, detail_path)
    return s.partner.product_profile(codes)


def _treatment_site(s: Scope, version: str | None) -> str | None:
    r, res = s.r, s.res
    if version == "R5":
        first = next(iter(r.objects(res, "location", s.path)), None)
        ref = r.obj(first[1], "reference", first[0]) if first else None
        at = join(first[0], "reference") if first else s.at("location")
    else:
        first = next(iter(r.objects(res, "locationReference", s.path)), None)
        ref = first[1] if first else None
        at = first[0] if first else s.at("locationReference")
    place = s.patients.location(ref, at, s.entry)
    return place.id if place else None


def _category(res: dict[str, Any]) -> str | None:
    """productCategory: an R4 code or the code of an R5 Coding."""
    category = res.get("productCategory")
    if isinstance(category, dict):
        category = category.get("code")
    return category if isinstance(category, str) else None


def _coding_code(s: Scope, key: str) -> str | None:
    coding = s.r.obj(s.res, key, s.path)
    return s.r.text(coding, "code", s.at(key)) if coding is not None else None
