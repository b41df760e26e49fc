"""B2MML ProductionPerformance / ProductionResponse -> manufacturing milestones.

V07 names them OperationsPerformance / OperationsResponse (``OperationsRequestID``, nested
segments as ``SegmentResponseChild``); both are read the same way. A V07 response whose
``OperationsType`` (its own, else the performance's) is Maintenance, Quality or Inventory is no
manufacturing milestone and is skipped; a message with nothing else is UNSUPPORTED_MESSAGE.

Per ``ProductionResponse`` (one patient batch, one process order):

* ``StartTime`` (else the earliest segment ``ActualStartTime``) -> MANUFACTURING_STARTED;
* every ``SegmentResponse`` with ``ActualEndTime`` -> MANUFACTURING_STEP_COMPLETED
  (step = ``ProcessSegmentID``, status = ``SegmentState``), and a completed segment whose
  ``ProcessSegmentID`` starts with ``CRYOPRESERV`` also -> CRYOPRESERVED;
* ``ResponseState`` Completed / Closed -> MANUFACTURING_COMPLETED at ``EndTime``.

MES reports are often cumulative (each report repeats the segments already done), so event ids
are keyed by the ProductionResponse ID and SegmentResponse ID, not by the report.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from connectors.mes.b2mml import Document, first_child, nouns, properties, quantity, scope_id
from connectors.timestamps import parse_timestamp
from connectors.xmlsupport import (
    Element,
    children,
    find,
    local_name,
    path_of,
    text_of,
)
from hub.events.models import (
    Actor,
    Detail,
    Event,
    EventType,
    Identifiers,
    Location,
    ManufacturingDetail,
    MaterialDetail,
)

PERFORMANCE_NOUNS = ("ProductionPerformance", "OperationsPerformance")
RESPONSE_NOUNS = ("ProductionResponse", "OperationsResponse")
_SEGMENT_TAGS = ("SegmentResponse", "SegmentResponseChild")
# OperationsType values that describe production; absent means production (B2MML before V0600).
_PRODUCTION_TYPES = frozenset({"", "PRODUCTION", "MIXED"})
_COMPLETED_STATES = frozenset({"COMPLETED", "CLOSED"})
CRYO_SEGMENT_PREFIX = "CRYOPRESERV"
# Fixed index per event kind within its key, so an optional event never shifts another's id.
_STARTED, _COMPLETED = 0, 1
_STEP, _CRYO = 0, 1


class _Maker(Protocol):
    def __call__(
        self,
        key: str,
        index: int,
        event_type: EventType,
        when: datetime,
        detail: Detail,
        actor: Actor | None,
        biz_step: str | None = None,
    ) -> Event: ...


def performance_events(doc: Document, noun: str) -> list[Event]:
    """Events of every production response in the performance noun(s) (or bare response)."""
    if noun in RESPONSE_NOUNS:
        doc.identify(doc.f.req(doc.root, "ID"))
        _check_production(doc, doc.root, None)
        return _response(doc, doc.root, None)
    events: list[Event] = []
    skipped: list[str] = []
    response_tag = RESPONSE_NOUNS[PERFORMANCE_NOUNS.index(noun)]
    for perf in nouns(doc.root, noun, doc.f):
        responses = [r for r in perf if isinstance(r.tag, str) and local_name(r) in RESPONSE_NOUNS]
        if not responses:
            raise doc.f.missing(perf, response_tag)
        # The performance ID is optional before V07; the first response then names the report.
        doc.identify(doc.f.text(perf, "ID") or doc.f.req(responses[0], "ID"))
        for response in responses:
            kind = _operations_type(doc, response, perf)
            if kind.upper() not in _PRODUCTION_TYPES:
                skipped.append(f"{doc.f.req(response, 'ID')} ({kind})")
                continue
            events.extend(_response(doc, response, perf))
    if skipped and not events:
        raise doc.f.error(
            f"operations response(s) {', '.join(skipped)} are not production: OperationsType "
            "Maintenance, Quality and Inventory are not mapped (the hub reads Production, Mixed)",
            "OperationsType",
            "UNSUPPORTED_MESSAGE",
        )
    return events


def _operations_type(doc: Document, response: Element, perf: Element | None) -> str:
    return (
        doc.f.text(response, "OperationsType")
        or (doc.f.text(perf, "OperationsType") if perf is not None else None)
        or ""
    )


def _check_production(doc: Document, response: Element, perf: Element | None) -> None:
    kind = _operations_type(doc, response, perf)
    if kind.upper() not in _PRODUCTION_TYPES:
        raise doc.f.error(
            f"operations response {doc.f.req(response, 'ID')} has OperationsType {kind}: not "
            "production, not mapped (the hub reads Production, Mixed)",
            f"{path_of(response)}/OperationsType",
            "UNSUPPORTED_MESSAGE",
        )


def _segments(parent: Element) -> list[Element]:
    """SegmentResponse children, and theirs (B2MML nests sub-segments; V07 calls them
    SegmentResponseChild), in document order."""
    found: list[Element] = []
    for segment in parent:
        if isinstance(segment.tag, str) and local_name(segment) in _SEGMENT_TAGS:
            found.append(segment)
            found.extend(_segments(segment))
    return found


class _Response:
    """The identifiers and place shared by every event of one ProductionResponse."""

    def __init__(self, doc: Document, response: Element, perf: Element | None) -> None:
        f = doc.f
        self.id = f.req(response, "ID")
        self.materials = [m for s in _segments(response) for m in children(s, "MaterialActual")]
        self.coi = self._identifier(doc, doc.ids.coi, "COI")
        din = self._identifier(doc, doc.ids.din, "DIN")
        self.produced = next(
            (m for m in self.materials if (f.text(m, "MaterialUse") or "").lower() == "produced"),
            None,
        )
        self.batch = f.text(self.produced, "MaterialLotID") if self.produced is not None else None
        if self.coi is None and self.batch is None:
            raise f.error(
                f"production response {self.id} names neither a COI (MaterialActualProperty "
                f"ID={doc.ids.coi}) nor a produced MaterialLotID",
                f"{path_of(response)}/SegmentResponse/MaterialActual",
                "MISSING_IDENTIFIER",
            )
        self.site = scope_id(response, perf)
        self.location = Location(id=self.site) if self.site else None
        self.identifiers = Identifiers(
            batch_id=self.batch,
            din=din,
            order_id=text_of(first_child(response, "ProductionRequestID", "OperationsRequestID")),
            other={"production_response": self.id},
        )

    def _identifier(self, doc: Document, property_id: str, key: str) -> str | None:
        """One COI / DIN for the whole response; two different ones are COI_/DIN_CONFLICT."""
        found: str | None = None
        for material in self.materials:
            entry = properties(material, "MaterialActualProperty").get(property_id.upper())
            if entry is None:
                continue
            raw, where = entry.value, entry.field
            value = doc.coi(raw, where) if key == "COI" else doc.f.din(raw, where)
            if found is not None and value != found:
                raise doc.f.error(
                    f"production response {self.id} carries two {key}s: {found} and {value}",
                    where,
                    f"{key}_CONFLICT",
                )
            found = value
        return found


def _response(doc: Document, response: Element, perf: Element | None) -> list[Event]:
    f = doc.f
    r = _Response(doc, response, perf)
    segments = _segments(response)
    system_actor = doc.system_actor(r.site)
    shared = replace(
        doc.envelope,
        coi_id=r.coi,
        identifiers=r.identifiers,
        location=r.location,
        disposition="in_progress",
    )

    def make(
        key: str,
        index: int,
        event_type: EventType,
        when: datetime,
        detail: Detail,
        actor: Actor | None,
        biz_step: str | None = None,
    ) -> Event:
        envelope = replace(shared, actor=actor, biz_step=biz_step)
        return envelope.event(index, event_type, when, detail, key=key)

    events: list[Event] = []
    seg_starts = [t for s in segments if (t := f.time(s, "ActualStartTime")) is not None]
    started = f.time(response, "StartTime") or (min(seg_starts) if seg_starts else None)
    state = (f.text(response, "ResponseState") or "").upper()
    if started is not None:
        detail = ManufacturingDetail(status="STARTED", material_lot=r.batch)
        events.append(
            make(r.id, _STARTED, EventType.MANUFACTURING_STARTED, started, detail, system_actor)
        )
    ends: list[datetime] = []
    for segment in segments:
        ended = f.time(segment, "ActualEndTime")
        if ended is None:
            continue  # still running: nothing completed yet
        ends.append(ended)
        events.extend(_segment(doc, r, segment, ended, make))
    if state in _COMPLETED_STATES:
        completed = (
            f.time(response, "EndTime")
            or (max(ends) if ends else None)
            or (f.time(perf, "PublishedDate") if perf is not None else None)
        )
        if completed is None:
            raise f.missing(response, "EndTime")
        detail = ManufacturingDetail(status=state, material_lot=r.batch)
        events.append(
            make(
                r.id, _COMPLETED, EventType.MANUFACTURING_COMPLETED, completed, detail, system_actor
            )
        )
    return events


def _segment(
    doc: Document, r: _Response, segment: Element, ended: datetime, make: _Maker
) -> list[Event]:
    f = doc.f
    step = f.text(segment, "ProcessSegmentID") or f.req(segment, "ID")
    key = f"{r.id}/{f.req(segment, 'ID')}"
    status = (f.text(segment, "SegmentState") or "Completed").upper()
    person = text_of(find(segment, "PersonnelActual/PersonID"))
    actor = (
        Actor(id=person, role="operator", organisation=r.site)
        if person
        else doc.system_actor(r.site)
    )
    produced = next(
        (
            m
            for m in children(segment, "MaterialActual")
            if (f.text(m, "MaterialUse") or "").lower() == "produced"
        ),
        None,
    )
    detail = ManufacturingDetail(
        step=step,
        status=status,
        equipment=text_of(find(segment, "EquipmentActual/EquipmentID")),
        material_lot=(f.text(produced, "MaterialLotID") if produced is not None else None)
        or r.batch,
    )
    events = [make(key, _STEP, EventType.MANUFACTURING_STEP_COMPLETED, ended, detail, actor)]
    if step.upper().startswith(CRYO_SEGMENT_PREFIX) and status == "COMPLETED":
        material = produced if produced is not None else r.produced
        events.append(
            make(key, _CRYO, EventType.CRYOPRESERVED, ended, _cryo(doc, material), actor, "storing")
        )
    return events


def _cryo(doc: Document, material: Element | None) -> MaterialDetail:
    """The cryopreserved product: definition, quantity, bag (sub-lot) and expiry."""
    if material is None:
        return MaterialDetail(material_type="final_product")
    f = doc.f
    amount, unit = quantity(material, f)
    expiry = properties(material, "MaterialActualProperty").get(doc.ids.expiration_date.upper())
    expires_at = (
        parse_timestamp(expiry.value, expiry.field, doc.partner, doc.message_id) if expiry else None
    )
    return MaterialDetail(
        material_type=f.text(material, "MaterialDefinitionID") or "final_product",
        quantity=amount,
        unit=unit,
        expires_at=expires_at,
        container_id=f.text(material, "MaterialSubLotID"),
    )
