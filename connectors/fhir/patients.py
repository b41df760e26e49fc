"""Who a reference points at: a patient (then only as a pseudonym) or anyone else.

The pseudonym is ``pseudonymise(key, system, value)`` of the patient's medical record number:
the Patient resource's identifier typed ``MR`` (HL7 v2 table 0203), else its first identifier
with a system. A reference to a Patient inside the message resolves to that resource's MRN; a
reference carrying only an ``identifier`` is pseudonymised from that identifier directly. So the
same patient gets the same pseudonym from every resource and every message.

An identifier in the hub's pseudonym system (``codes.PSEUDONYM_SYSTEM``, what
``FhirConnector.prepare_raw`` leaves in a message) is already a pseudonym: its value is used as it
is, after checking that it looks like one (``pt-`` + 24 lower-case hex digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from connectors.fhir.codes import IDENTIFIER_TYPE_SYSTEM, MRN_TYPE, PSEUDONYM_SYSTEM
from connectors.fhir.directory import Directory, Entry
from connectors.fhir.reader import Ident, Reader
from connectors.jsonreader import join
from hub.events.models import Actor, Location
from hub.events.pseudonym import pseudonymise

_PATIENT_REF = re.compile(r"(?:^|/)Patient[/?]")
# A conditional reference (transaction Bundles): ``Patient?identifier=system|value``.
_CONDITIONAL = re.compile(r"(?:^|/)Patient\?(?:.*&)?identifier=([^&|]+)\|([^&,]+)")
PSEUDONYM = re.compile(r"pt-[0-9a-f]{24}")


def is_pseudonym_system(system: str | None) -> bool:
    return system is not None and system.strip().lower() == PSEUDONYM_SYSTEM.lower()


def pseudonym_of_identifier(key: bytes, ident: Ident, r: Reader) -> str | None:
    """The pseudonym an identifier stands for: its value if it is in the pseudonym system (which
    must then be a pseudonym), else the keyed HMAC of system and value; None without system."""
    if ident.system is None:
        return None
    if is_pseudonym_system(ident.system):
        if PSEUDONYM.fullmatch(ident.value) is None:
            raise r.error(
                "an identifier in the patient pseudonym system must be a hub pseudonym ('pt-' "
                "and 24 lower-case hex digits); its value is not",
                ident.path,
                "INVALID_IDENTIFIER",
            )
        return ident.value
    return pseudonymise(key, ident.system, ident.value)


@dataclass(frozen=True)
class Resolved:
    """A reference's target: ``is_patient`` and, for a patient, the pseudonym if derivable;
    otherwise the reference text or identifier value that names the party."""

    is_patient: bool
    pseudonym: str | None
    name: str | None


class Patients:
    def __init__(self, key: bytes, directory: Directory, r: Reader) -> None:
        self.key = key
        self.directory = directory
        self.r = r

    def pseudonym_of(self, patient: Entry) -> str | None:
        """The pseudonym of a Patient resource's MRN, or None if it has no usable identifier.

        Every identifier in the pseudonym system is checked, also one that is not the chosen one.
        """
        ids = [
            i for i in self.r.identifiers(patient.resource, "identifier", patient.path) if i.system
        ]
        for ident in ids:
            if is_pseudonym_system(ident.system):
                pseudonym_of_identifier(self.key, ident, self.r)
        mrn = next((i for i in ids if _is_mrn(i)), ids[0] if ids else None)
        if mrn is None:
            return None
        return pseudonym_of_identifier(self.key, mrn, self.r)

    def resolve(
        self, ref: dict[str, Any] | None, path: str, container: Entry, *, assume_patient: bool
    ) -> Resolved | None:
        """Resolve a Reference; ``assume_patient`` treats an untyped, identifier-only reference
        as the patient's (true for ``subject``)."""
        if ref is None:
            return None
        r = self.r
        reference = r.text(ref, "reference", path)
        kind = r.text(ref, "type", path)
        ident_obj = r.obj(ref, "identifier", path)
        idents = r.identifiers(ref, "identifier", path) if ident_obj is not None else []
        target = self.directory.resolve(reference, container) if reference else None
        target_kind = target.resource.get("resourceType") if target else None
        is_patient = (
            kind == "Patient"
            or target_kind == "Patient"
            or (reference is not None and _PATIENT_REF.search(reference) is not None)
            or (assume_patient and kind is None and target is None and bool(idents))
        )
        if is_patient:
            pseudonym = None
            if target is not None and target_kind == "Patient":
                pseudonym = self.pseudonym_of(target)
            if pseudonym is None and idents:
                pseudonym = pseudonym_of_identifier(self.key, idents[0], self.r)
            if pseudonym is None and reference is not None:
                pseudonym = self.conditional(reference, path)
            return Resolved(True, pseudonym, None)
        return Resolved(False, None, reference or (idents[0].value if idents else None))

    def conditional(self, reference: str, path: str) -> str | None:
        """The pseudonym of a conditional reference ``Patient?identifier=system|value``."""
        match = _CONDITIONAL.search(reference)
        if match is None:
            return None
        system, value = (unquote(g) for g in match.groups())
        ident = Ident(system, value, (), join(path, "reference"))
        return pseudonym_of_identifier(self.key, ident, self.r)

    def patient_ref(self, resource: Entry, key: str) -> str | None:
        """The pseudonym of the patient a resource's ``key`` reference (e.g. subject) names."""
        ref = self.r.obj(resource.resource, key, resource.path)
        found = self.resolve(ref, join(resource.path, key), resource, assume_patient=True)
        return found.pseudonym if found is not None and found.is_patient else None

    def actor(
        self, ref: dict[str, Any] | None, path: str, container: Entry, role: str
    ) -> Actor | None:
        """A party as an Actor: a patient by pseudonym only, anyone else by reference or
        identifier (never by ``display``)."""
        found = self.resolve(ref, path, container, assume_patient=False)
        if found is None:
            return None
        if found.is_patient:
            return Actor(id=found.pseudonym, role="patient") if found.pseudonym else None
        return Actor(id=found.name, role=role) if found.name else None

    def location(self, ref: dict[str, Any] | None, path: str, container: Entry) -> Location | None:
        found = self.resolve(ref, path, container, assume_patient=False)
        if found is None or found.is_patient or found.name is None:
            return None
        return Location(id=found.name)


def _is_mrn(ident: Ident) -> bool:
    return any(
        code == MRN_TYPE and system in (IDENTIFIER_TYPE_SYSTEM, None)
        for system, code in ident.type_codes
    )
