"""HL7 FHIR R4 / R5 JSON from the clinic: a Bundle of resources or a single resource.

=============================  ==========================================  =======================
resource                       when                                        event
=============================  ==========================================  =======================
ServiceRequest                 active/on-hold/completed, intent an order   THERAPY_ORDERED
ServiceRequest                 revoked                                     PATIENT_STATUS_CHANGED
Procedure apheresis            completed                                   COLLECTION_COMPLETED
Procedure lymphodepletion      in-progress/on-hold/stopped/completed       LYMPHODEPLETION_STARTED
Procedure thaw                 completed                                   PRODUCT_THAWED
Procedure infusion             completed                                   INFUSION_COMPLETED
BiologicallyDerivedProduct     collection.collected[x] present             COLLECTION_COMPLETED
ServiceRequest / Procedure     entered-in-error                            RECORD_CORRECTED
Patient                        never forwarded: the pseudonym's source     (none)
=============================  ==========================================  =======================

Patients appear only as ``patient_ref`` = ``pseudonymise(key, MRN system, MRN value)``. The
feed carries identity, so :meth:`FhirConnector.prepare_raw` pseudonymises every message at the
edge before its first write to Kafka (``prepare.py``), and :meth:`FhirConnector.normalise` reads
that same pseudonymised copy: ``normalise(prepare_raw(x))`` equals ``normalise(x)``. See
``privacy.py`` for the layers that keep names, MRNs, birth dates and addresses out of every
topic, event and rejection. Event ids are ``event_id("fhir", resource key, i)`` with the
resource key ``<type>/<id>/_history/<versionId>`` (or a keyed content hash of the pseudonymised
resource when unversioned).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Any, ClassVar

from connectors.base import Connector, ConnectorConfig, RawMessage
from connectors.fhir.config import FhirPartnerConfig
from connectors.fhir.directory import Directory, Entry, resource_key
from connectors.fhir.patients import Patients
from connectors.fhir.prepare import Pseudonymiser, dump
from connectors.fhir.privacy import REDACTED, Redactor, sensitive_tokens
from connectors.fhir.reader import Reader
from connectors.fhir.resources import HANDLERS, PassedOver, Scope
from connectors.jsonreader import canonical_json, join, parse_json_object
from hub.errors import NormalisationError
from hub.events.models import Event

log = logging.getLogger(__name__)

SUPPORTED = ", ".join([*HANDLERS, "Patient", "Bundle"])


class FhirConnector(Connector):
    name: ClassVar[str] = "fhir"
    system: ClassVar[str] = "ehr-fhir"
    content_types: ClassVar[tuple[str, ...]] = ("application/fhir+json", "application/json")
    carries_identity: ClassVar[bool] = True

    def __init__(self, config: ConnectorConfig | None = None) -> None:
        super().__init__(config)
        # Validated once, when the connector is built: bad partner options fail the start-up
        # (ConfigurationError), never a message.
        self.partner = FhirPartnerConfig.of(self.config.partner_options)

    def prepare_raw(self, payload: bytes) -> bytes:
        """The message with every patient identity pseudonymised (``prepare.py``), for the edge
        to write to Kafka instead of the original; ``NormalisationError`` if that cannot be done
        safely (not a JSON FHIR resource, an unreadable patient identifier, ...). Idempotent."""
        doc = parse_json_object(payload, self.name)  # its errors quote nothing
        redactor: Redactor | None = None
        try:
            redactor = Redactor(sensitive_tokens(doc))
            pseudonymiser = Pseudonymiser(self.config.pseudonym_key, self.name)
            return dump(pseudonymiser.document(doc, redactor))
        except NormalisationError as exc:
            raise (redactor.error(exc) if redactor else exc) from None
        except Exception as exc:  # called by the edge, not by process(): withheld here
            raise _withheld(self.name, exc) from None

    def normalise(self, message: RawMessage) -> list[Event]:
        doc = parse_json_object(message.payload, self.name)  # its errors quote nothing
        redactor = Redactor(sensitive_tokens(doc))
        try:
            # Events are made from the copy prepare_raw writes to Kafka (the same one, when the
            # edge did its job), so both give the same events, ids and pseudonyms.
            pseudonymiser = Pseudonymiser(self.config.pseudonym_key, self.name)
            prepared = pseudonymiser.document(doc, redactor)
            events, message_id = self._convert(prepared, message)
            # Ingress left <redacted> where an identity value stood: an event carrying one would
            # carry a value of the patient's identity (e.g. an MRN typed into the order number).
            guard = Redactor(sensitive_tokens(prepared) | {REDACTED})
            guard.guard(events, self.name, message_id)
            return events
        except NormalisationError as exc:
            raise redactor.error(exc) from None
        # Anything else is a connector fault: process() reports it by type only
        # (carries_identity), since its text may quote patient data.

    def _convert(self, doc: dict[str, Any], message: RawMessage) -> tuple[list[Event], str | None]:
        r = Reader(self.name)
        kind = r.req(doc, "resourceType", "")
        bundle = kind == "Bundle"
        if bundle:
            r.message_id = doc.get("id") if isinstance(doc.get("id"), str) else None
            entries = []
            for entry_path, item in r.objects(doc, "entry", ""):
                resource = r.obj(item, "resource", entry_path)
                if resource is not None:
                    full_url = r.text(item, "fullUrl", entry_path)
                    entries.append(Entry(join(entry_path, "resource"), resource, full_url))
        else:
            entries = [Entry("", doc)]
        directory = Directory(entries)
        events: list[Event] = []
        seen: dict[str, str] = {}
        ignored: Counter[str] = Counter()
        passed: Counter[str] = Counter()
        for entry in entries:
            kind = r.req(entry.resource, "resourceType", entry.path)
            handler = HANDLERS.get(kind)
            if handler is None:
                if not bundle and kind != "Patient":
                    raise r.error(
                        f"resourceType {kind!r} is not supported (supported: {SUPPORTED})",
                        "resourceType",
                        "UNSUPPORTED_RESOURCE",
                    )
                ignored[kind] += 1
                if kind != "Patient":
                    passed["unread-type"] += 1
                continue
            key = resource_key(entry.resource, kind, self.config.pseudonym_key)
            content = canonical_json(entry.resource)
            if key in seen:
                if seen[key] != content:
                    raise r.error(
                        f"two different {kind} resources share the same id and version",
                        entry.path,
                        "DUPLICATE_RESOURCE",
                    )
                continue
            seen[key] = content
            scoped = Reader(self.name, key)
            scope = Scope(
                entry=entry,
                kind=kind,
                key=key,
                r=scoped,
                directory=directory,
                patients=Patients(self.config.pseudonym_key, directory, scoped),
                coi_pattern=self.config.coi_pattern,
                received_at=message.received_at,
                partner=self.partner,
            )
            drafts = handler(scope)
            if isinstance(drafts, PassedOver):
                ignored[kind] += 1
                passed[drafts.value] += 1
                continue
            envelope = self.envelope(message, key)
            events.extend(
                replace(
                    envelope,
                    coi_id=d.coi,
                    patient_ref=d.patient_ref,
                    identifiers=d.identifiers,
                    actor=d.actor,
                    location=d.location,
                ).event(i, d.event_type, d.occurred_at, d.detail)
                for i, d in enumerate(drafts)
            )
        if not events:
            summary = ", ".join(f"{n} {k}" for k, n in sorted(ignored.items())) or "no resources"
            if passed:
                reasons = ", ".join(f"{k}={n}" for k, n in sorted(passed.items()))
                summary += f"; passed over: {reasons}"
            raise r.error(
                f"no resource in the message yields an event ({summary}; Patient resources only "
                "supply pseudonyms, other resources need a mapped code, status and time)",
                "entry" if bundle else "resourceType",
                "NO_USABLE_RESOURCE",
            )
        if passed:
            # Counts by the connector's own reasons only: a resourceType or code is partner text,
            # and logs never carry partner text here.
            log.info(
                "fhir: %d resource(s) passed over (%s)",
                sum(passed.values()),
                ", ".join(f"{reason}={n}" for reason, n in sorted(passed.items())),
                extra={"passed_over": dict(passed)},
            )
        return events, r.message_id


def _withheld(partner: str, exc: Exception) -> NormalisationError:
    """A connector fault, reported by type only: an exception text may quote patient data, and
    it must reach neither a log line nor a dead-letter header."""
    log.error("fhir connector failed unexpectedly (%s); details withheld", type(exc).__name__)
    return NormalisationError(
        f"unexpected {type(exc).__name__} in the FHIR connector (details withheld: the message "
        "carries patient data)",
        partner=partner,
        code="CONNECTOR_ERROR",
    )


CONNECTOR = FhirConnector
