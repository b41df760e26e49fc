"""GS1 EPCIS 2.0 JSON / JSON-LD: documents, query documents and single events.

One raw message is an ``EPCISDocument`` (``epcisBody.eventList``), an ``EPCISQueryDocument``
(``epcisBody.queryResults.resultsBody.eventList``) or one bare event. Each EPCIS event becomes:

* its business step's canonical event (table in ``vocabulary.BIZSTEP_EVENTS``; a
  TransformationEvent with no mapped step is a MANUFACTURING_STEP_COMPLETED);
* one IDENTIFIER_LINKED per EPC when the event names a COI and commissions, packs or associates;
* one TEMPERATURE_READING per Temperature ``sensorReport`` (see ``sensors.py``);
* or, when it carries an ``errorDeclaration``, exactly one RECORD_CORRECTED and nothing else.

Ids are deterministic: an EPCIS event's key is its ``eventID``, else ``sha256:`` + the hash of
its canonical JSON (without ``@context``, ``recordTime`` and ``errorDeclaration``, so an event and
a later declaration about it share the key). Business events are ``event_id("epcis", key, i)``,
readings ``event_id("epcis", key + "#sensor", i)``, a correction
``event_id("epcis", key + "#errorDeclaration@" + declarationTime, 0)``.

An EPCIS event with no canonical counterpart (for example ``inspecting`` without sensor data) is
skipped and logged with its key; a document in which every event is skipped is rejected
(``NO_USABLE_EVENT``). README.md beside this file has the full mapping and rejection codes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from connectors.base import Connector, Envelope, RawMessage
from connectors.epcis.objects import What, describe, v2v_prefixes
from connectors.epcis.sensors import Fault, Reading, temperature_readings
from connectors.epcis.vocabulary import (
    BIZSTEP_EVENTS,
    LINKING_STEPS,
    StepMapping,
    cbv_term,
)
from connectors.epcis.xmlbinding import read_document
from connectors.jsonreader import JsonReader, canonical_json, join, parse_json_object
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    ClinicalDetail,
    CorrectionDetail,
    CustodyDetail,
    Detail,
    DeviationDetail,
    Event,
    EventType,
    LinkDetail,
    Location,
    ManufacturingDetail,
    MaterialDetail,
    ShipmentDetail,
)

log = logging.getLogger(__name__)

# v2v:materialType values naming the final (drug) product rather than starting material.
DRUG_PRODUCTS = frozenset({"car_t_drug_product", "drug_product", "final_product"})

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
_OFFSET = re.compile(r"^[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)$")
_KEY_EXCLUDED = ("@context", "recordTime", "errorDeclaration")
# Two copies of one event may differ in these without being different events.
_UNCOMPARED = ("@context", "recordTime")


@dataclass(frozen=True)
class Conversion:
    """The events of one message and the keys of the EPCIS events that yielded none."""

    events: tuple[Event, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class _Context:
    """What every canonical event built from one EPCIS event shares."""

    key: str
    what: What
    envelope: Envelope


class EpcisConnector(Connector):
    name: ClassVar[str] = "epcis"
    system: ClassVar[str] = "epcis"
    content_types: ClassVar[tuple[str, ...]] = (
        "application/ld+json",
        "application/json",
        "application/xml",
        "text/xml",
    )

    def normalise(self, message: RawMessage) -> list[Event]:
        conversion = self.convert(message)
        if conversion.skipped:
            log.info(
                "epcis: %d event(s) without a canonical counterpart skipped: %s",
                len(conversion.skipped),
                ", ".join(conversion.skipped),
            )
        return list(conversion.events)

    def convert(self, message: RawMessage) -> Conversion:
        """Like :meth:`normalise`, also naming the EPCIS events that yielded nothing."""
        doc = self._document(message)
        doc_id = doc.get("id") if isinstance(doc.get("id"), str) else None
        r = JsonReader(self.name, doc_id)
        entries = self._entries(doc, r)
        events: list[Event] = []
        skipped: list[str] = []
        seen: dict[str, str] = {}
        for path, entry in entries:
            if not isinstance(entry, dict):
                raise r.error(f"'{path}' must be an object, got {type(entry).__name__}", path)
            prefixes = v2v_prefixes(doc.get("@context"), entry.get("@context"))
            message_key, produced = self._event(entry, path, prefixes, message)
            content = canonical_json({k: v for k, v in entry.items() if k not in _UNCOMPARED})
            if message_key in seen:
                if seen[message_key] != content:
                    raise NormalisationError(
                        f"two different events share the key {message_key!r}",
                        partner=self.name,
                        message_id=message_key,
                        field=path,
                        code="DUPLICATE_EVENT_ID",
                    )
                continue  # the very same event twice: its events are already there
            seen[message_key] = content
            if produced:
                events.extend(produced)
            else:
                skipped.append(message_key)
        if entries and not events:
            raise NormalisationError(
                f"none of the {len(entries)} EPCIS event(s) has a canonical counterpart "
                f"(no mapped business step, no temperature report): {', '.join(skipped[:10])}",
                partner=self.name,
                message_id=doc_id,
                code="NO_USABLE_EVENT",
            )
        return Conversion(tuple(events), tuple(skipped))

    def _document(self, message: RawMessage) -> dict[str, Any]:
        """The JSON-binding form of the message: JSON / JSON-LD as is, the XML binding (EPCIS
        2.0 or 1.2) read into the same shape. XML is recognised by its content type or, when
        none is given, by a payload starting with ``<``."""
        kind = (message.content_type or "").split(";")[0].strip().lower()
        body = message.payload.removeprefix(b"\xef\xbb\xbf").lstrip()
        if kind in ("application/xml", "text/xml") or (not kind and body.startswith(b"<")):
            return read_document(message.payload, self.name)
        return parse_json_object(message.payload, self.name)

    def _entries(self, doc: dict[str, Any], r: JsonReader) -> list[tuple[str, Any]]:
        kind = r.text(doc, "type", "", required=True)
        if kind == "EPCISDocument":
            body = r.req_obj(doc, "epcisBody", "")
            items = r.array(body, "eventList", "epcisBody", required=True)
            base = "epcisBody.eventList"
        elif kind == "EPCISQueryDocument":
            body = r.req_obj(doc, "epcisBody", "")
            results = r.req_obj(body, "queryResults", "epcisBody")
            found = r.req_obj(results, "resultsBody", "epcisBody.queryResults")
            base = "epcisBody.queryResults.resultsBody.eventList"
            items = r.array(found, "eventList", "epcisBody.queryResults.resultsBody", required=True)
        elif kind in EVENT_TYPES or "eventTime" in doc:
            return [("", doc)]  # one bare event (possibly an extension event type)
        else:
            raise r.error(
                f"unknown EPCIS document type {kind!r} (expected EPCISDocument, "
                "EPCISQueryDocument or an event)",
                "type",
                "UNKNOWN_TYPE",
            )
        return [(join(base, i), item) for i, item in enumerate(items)]

    def _key(self, entry: dict[str, Any], path: str, r: JsonReader) -> str:
        given = r.text(entry, "eventID", path)
        if given is not None and given.strip():
            return given.strip()
        content = {k: v for k, v in entry.items() if k not in _KEY_EXCLUDED}
        return "sha256:" + hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()

    def _event(
        self, entry: dict[str, Any], path: str, prefixes: frozenset[str], message: RawMessage
    ) -> tuple[str, list[Event]]:
        key = self._key(entry, path, JsonReader(self.name))
        r = JsonReader(self.name, key)
        kind = r.req(entry, "type", path)
        event_time = r.req_time(entry, "eventTime", path)
        offset = r.text(entry, "eventTimeZoneOffset", path)
        if offset is not None and not _OFFSET.match(offset):
            where = join(path, "eventTimeZoneOffset")
            reason = f"'{where}' is not an offset like +01:00: {offset!r}"
            raise r.error(reason, where, "BAD_TIMESTAMP")
        what = describe(entry, path, r, prefixes, self.config.coi_pattern)
        location, read_point = self._location(entry, path, r)
        other = dict(what.identifiers.other)
        other["epcis_event_type"] = kind
        if read_point is not None:
            other["read_point"] = read_point
        if (action := r.text(entry, "action", path)) is not None:
            other["action"] = action
        step = r.text(entry, "bizStep", path)
        disposition = r.text(entry, "disposition", path)
        envelope = replace(
            self.envelope(message, key),
            coi_id=what.coi,
            identifiers=what.identifiers.model_copy(update={"other": other}),
            location=location,
            biz_step=cbv_term(step, "bizstep") if step else None,
            disposition=cbv_term(disposition, "disp") if disposition else None,
        )
        ctx = _Context(key=key, what=what, envelope=envelope)
        declaration = r.obj(entry, "errorDeclaration", path)
        if declaration is not None:
            return self._correction(declaration, join(path, "errorDeclaration"), ctx, r)

        events = [
            replace(envelope, actor=actor).event(i, event_type, event_time, detail)
            for i, (event_type, detail, actor) in enumerate(self._business(kind, ctx))
        ]
        for i, item in enumerate(temperature_readings(entry, path, event_time, r)):
            extra = {**other, **item.extra}
            if item.exception is not None:
                extra["sensor_exception"] = item.exception
            ids = envelope.identifiers.model_copy(
                update={"logger_id": item.device_id, "other": extra}
            )
            kind, detail = _sensor_event(item, key, i)
            events.append(
                replace(envelope, identifiers=ids).event(
                    i, kind, item.occurred_at, detail, key=f"{key}#sensor"
                )
            )
        return key, events

    def _location(
        self, entry: dict[str, Any], path: str, r: JsonReader
    ) -> tuple[Location | None, str | None]:
        """bizLocation (where the objects are now) is the location, else the readPoint;
        a readPoint beside a bizLocation is kept in ``identifiers.other["read_point"]``."""
        ids: dict[str, str] = {}
        for key in ("bizLocation", "readPoint"):
            place = r.obj(entry, key, path)
            if place is not None:
                ids[key] = r.req(place, "id", join(path, key))
        if "bizLocation" in ids:
            read_point = ids.get("readPoint")
            return Location(id=ids["bizLocation"]), (
                read_point if read_point != ids["bizLocation"] else None
            )
        if "readPoint" in ids:
            return Location(id=ids["readPoint"]), None
        return None, None

    def _business(self, kind: str, ctx: _Context) -> list[tuple[EventType, Detail, Actor | None]]:
        out: list[tuple[EventType, Detail, Actor | None]] = []
        mapping = BIZSTEP_EVENTS.get(ctx.envelope.biz_step or "")
        if mapping is not None:
            out.append(self._mapped(mapping, ctx))
        elif kind == "TransformationEvent":
            detail = ManufacturingDetail(
                step=ctx.envelope.biz_step or "transformation",
                status=ctx.envelope.disposition,
                material_lot=ctx.envelope.identifiers.batch_id,
            )
            out.append((EventType.MANUFACTURING_STEP_COMPLETED, detail, None))
        if ctx.what.coi and (ctx.envelope.biz_step in LINKING_STEPS or kind == "AssociationEvent"):
            for epc in ctx.what.epcs:
                link = LinkDetail(id_kind="epc", id_value=epc)
                out.append((EventType.IDENTIFIER_LINKED, link, None))
        return out

    def _mapped(
        self, mapping: StepMapping, ctx: _Context
    ) -> tuple[EventType, Detail, Actor | None]:
        what = ctx.what
        sender, receiver = what.party("source"), what.party("destination")
        kind = mapping.event_type
        detail: Detail
        actor: Actor | None = None
        if mapping.status is not None:
            voided = mapping.status == "VOIDED"
            detail = ShipmentDetail(
                status=mapping.status,
                reason="shipment voided (CBV void_shipping)" if voided else None,
            )
            party = receiver if kind is EventType.SHIPMENT_DELIVERED else sender
            actor = _actor(party, "receiver" if kind is EventType.SHIPMENT_DELIVERED else "shipper")
        elif kind is EventType.MATERIAL_RECEIVED and (what.material_type or "") in DRUG_PRODUCTS:
            # The final product arriving at the treatment site is the site's receipt, not a
            # manufacturer's receipt of starting material.
            kind = EventType.PRODUCT_RECEIVED_AT_SITE
            detail = ClinicalDetail(procedure="receipt", status="received")
            actor = _actor(receiver, "receiver")
        elif kind is EventType.MATERIAL_RECEIVED:
            quantity, unit = what.quantity or (None, None)
            detail = MaterialDetail(
                material_type=what.material_type or "unspecified",
                quantity=quantity,
                unit=unit,
                container_id=ctx.envelope.identifiers.other.get("parent_id")
                or (what.epcs[0] if len(what.epcs) == 1 else None),
            )
            actor = _actor(receiver, "receiver")
        elif kind in (EventType.CUSTODY_ACCEPTED, EventType.CUSTODY_RELEASED):
            accepting = kind is EventType.CUSTODY_ACCEPTED
            detail = CustodyDetail(
                handover_id=ctx.envelope.identifiers.shipment_id
                or ctx.envelope.identifiers.other.get("parent_id")
                or (what.epcs[0] if what.epcs else ctx.key),
                releasing_party=sender,
                receiving_party=receiver
                or (ctx.envelope.location.id if accepting and ctx.envelope.location else None),
                # An EPCIS event observes instance identifiers: reading them is the scan.
                identity_scanned=True if what.epcs else None,
            )
            actor = _actor(receiver, "receiver") if accepting else _actor(sender, "releaser")
        else:  # destroying
            detail = DeviationDetail(
                deviation_id=f"epcis:{ctx.key}",
                classification="MATERIAL_DESTROYED",
                status="OPEN",
                description="EPCIS destroying event "
                f"(disposition {ctx.envelope.disposition or 'none'})",
            )
        return kind, detail, actor

    def _correction(
        self, declaration: dict[str, Any], path: str, ctx: _Context, r: JsonReader
    ) -> tuple[str, list[Event]]:
        declared_at = r.req_time(declaration, "declarationTime", path)
        reason = r.text(declaration, "reason", path)
        detail = CorrectionDetail(
            corrected_event_ids=[ctx.key],
            corrective_event_ids=r.strings(declaration, "correctiveEventIDs", path),
            declared_at=declared_at,
            reason=cbv_term(reason, "er") if reason else None,
        )
        message_key = f"{ctx.key}#errorDeclaration@{declared_at.isoformat()}"
        event = ctx.envelope.event(
            0, EventType.RECORD_CORRECTED, declared_at, detail, key=message_key
        )
        return message_key, [event]


def _sensor_event(item: Reading | Fault, key: str, index: int) -> tuple[EventType, Detail]:
    """A reading is a TEMPERATURE_READING; a logger fault (exception, no value) is a deviation
    for QA to assess, because the temperature record has a hole the logger itself reported."""
    if isinstance(item, Reading):
        return EventType.TEMPERATURE_READING, item.detail
    device = item.device_id or "unidentified device"
    measured = f" ({item.measurement})" if item.measurement else ""
    return EventType.DEVIATION_OPENED, DeviationDetail(
        deviation_id=f"epcis:{key}#sensor/{index}",
        classification="LOGGER_FAULT",
        status="OPEN",
        description=f"EPCIS sensor report{measured} from {device}: {item.exception} "
        f"at {item.occurred_at.isoformat()}, no value",
    )


def _actor(party: str | None, role: str) -> Actor | None:
    return Actor(id=party, role=role) if party else None


CONNECTOR = EpcisConnector
