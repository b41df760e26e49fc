"""Pseudonymisation at ingress: the copy of a FHIR message that may be written to Kafka.

DESIGN.md invariant 5: the clinic's identity never reaches a topic. ``FhirConnector.prepare_raw``
runs :class:`Pseudonymiser` at the edge, before the first write to Kafka, and ``normalise`` reads
the same pseudonymised copy, so ``normalise(prepare_raw(x))`` gives exactly the events of
``normalise(x)`` and ``prepare_raw`` is idempotent.

==========================================  ===================================================
in the message                              in the copy
==========================================  ===================================================
Patient resource (an entry, contained,      ``{"resourceType": "Patient", "id": <pseudonymous
anywhere)                                   id>, "identifier": [{"system": PSEUDONYM_SYSTEM,
                                            "value": <pseudonym>}]}``; the id is the pseudonym,
                                            else ``pid-`` + a keyed hash of the old id
RelatedPerson, Person, a person without     ``{"resourceType": ...}`` only
``resourceType``
its Bundle entry                            ``fullUrl`` and ``request.url`` name the new id
``Patient/<id>`` in any URL (``request.url``, ``Patient/<new id>`` (a keyed hash of an id that
``response.location``, ``link.url``, ...)   names no Patient of the message)
search parameters about a patient (any      ``identifier`` values become the pseudonym
parameter of a Patient / Person search,     identifier (``<pseudonym system>|<pseudonym>``),
a ``patient`` / ``subject`` ... chain       patient ids the pseudonymous id, anything else
elsewhere) in ``url``, ``ifNoneExist``,     ``<redacted>``
a conditional ``Patient?...`` reference
a reference to a patient (it resolves to    ``reference`` ``Patient/<new id>`` (``#<new id>``
a Patient, names ``Patient/...`` or type    for a contained one; an unknown patient's id is
Patient; an unresolved ``subject`` /        hashed), ``type`` kept, ``identifier`` the pseudonym
``source`` ... carrying an identifier)      identifier (if it had a system), ``display`` dropped
``subject`` / ``source`` ... that is no     its ``identifier`` and ``display`` dropped
patient
any other reference (``requester``, ...)     ``display`` dropped (free text naming a party;
                                            Coding displays stay)
a resource this connector does not read     ``{"resourceType": ..., "id": ...}``
(Observation, Practitioner, ...)
narrative ``text.div``, ``note``,           dropped (free text, never read)
``patientInstruction``
every other string and key (not codes:      every identity token of the message
``system``, ``code``, ``status`` ...)       (``privacy.sensitive_tokens``) that stands as a
                                            whole word -> ``<redacted>``
==========================================  ===================================================

The pseudonym is the one the connector always used (``patients.py``): ``pseudonymise(key,
system, value)`` of the MRN; an identifier already in the pseudonym system is kept as it is (and
must look like a pseudonym). A message that cannot be pseudonymised safely raises
:class:`~hub.errors.NormalisationError`: not a JSON object with a ``resourceType`` (anything else
could carry identity in fields nobody knows), a Patient or patient reference whose identifier
cannot be read (its pseudonym cannot be computed), a pseudonym-system identifier that is no
pseudonym, or nesting too deep to walk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from connectors.fhir.codes import PSEUDONYM_SYSTEM
from connectors.fhir.directory import Directory, Entry
from connectors.fhir.patients import Patients, pseudonym_of_identifier
from connectors.fhir.privacy import (
    PATIENT_REF_KEYS,
    PSEUDONYMOUS,
    REDACTED,
    Redactor,
    is_person,
    sensitive_tokens,
)
from connectors.fhir.reader import Ident, Reader
from connectors.fhir.resources import HANDLERS
from connectors.jsonreader import join
from hub.errors import NormalisationError

_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient[/?]")
# ``Patient/<id>`` inside a URL (not ``.../Patient/$everything``).
_PATIENT_SEGMENT = re.compile(r"(?<![A-Za-z0-9])Patient/([A-Za-z0-9\-.]{1,64})(?![A-Za-z0-9\-.])")
_PLAIN_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Keys whose strings are URLs, search parameters or references: patient ids and search values
# in them are pseudonymised (``_Run.url``).
_URL_KEYS = frozenset({"url", "fullUrl", "reference", "location", "ifNoneExist"})
# Search parameters that are about a patient outside a Patient search (chained or not).
_PATIENT_PARAMS = ("patient", "subject", "beneficiary", "individual", "person")
# Parameters of a Patient search that shape the result and name nobody.
_RESULT_PARAMS = frozenset(
    {"_count", "_sort", "_summary", "_elements", "_format", "_total", "_include", "_revinclude"}
)
_PERSON_SEARCH = frozenset({"Patient", "RelatedPerson", "Person"})
_PATIENT_TAIL = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_PATIENT_URL = re.compile(r"^(.*/)?Patient/[^/]+(?:/_history/[^/]+)?$")
_FREE_TEXT = frozenset({"note", "patientInstruction"})
# Keys whose values are FHIR codes and URIs (vocabulary, never identity): not scrubbed, so a
# patient called Order keeps the intent "order", and a numeric MRN equal to a SNOMED code leaves
# the code alone.
_CODED = frozenset({"resourceType", "system", "code", "status", "intent", "use", "type", "mode"})
_LOGICAL_ID_DOMAIN = b"v2v-hub/fhir/logical-id|"


@dataclass(frozen=True)
class _Person:
    pseudonym: str | None
    new_id: str | None


class Pseudonymiser:
    """Makes the pseudonymised copy of one decoded FHIR message (see the module docstring)."""

    def __init__(self, key: bytes, partner: str) -> None:
        self.key = key
        self.partner = partner

    def document(self, doc: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
        """The pseudonymised copy of ``doc`` (``redactor``: one over ``doc``'s tokens, if the
        caller has it already)."""
        kind = doc.get("resourceType")
        bundle_id = doc.get("id") if kind == "Bundle" and isinstance(doc.get("id"), str) else None
        r = Reader(self.partner, bundle_id)
        r.req(doc, "resourceType", "")  # no FHIR resource: identity could be anywhere in it
        try:
            redactor = redactor or Redactor(sensitive_tokens(doc))
            copy: dict[str, Any] = _Run(self.key, r, doc, redactor).value(doc, "", "", None)
        except RecursionError:
            raise NormalisationError(
                "the message nests too deeply to be pseudonymised",
                partner=self.partner,
                code="CANNOT_PSEUDONYMISE",
            ) from None
        return copy


def dump(doc: dict[str, Any]) -> bytes:
    """The copy as compact UTF-8 JSON (ASCII escapes only if a lone surrogate forbids UTF-8)."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(doc, separators=(",", ":")).encode("ascii")


class _Run:
    """One pass over one message."""

    def __init__(self, key: bytes, r: Reader, doc: dict[str, Any], redactor: Redactor) -> None:
        self.key = key
        self.r = r
        self.redactor = redactor
        top = _top_entries(doc)
        self.containers = {id(e.resource): e for e in top}
        self.directory = Directory(top)
        self.patients = Patients(key, self.directory, r)
        self.full_urls = _full_urls(doc)
        self.people: dict[int, _Person] = {}

    # --- values -------------------------------------------------------------------------------

    def value(self, value: Any, key: str, path: str, container: Entry | None) -> Any:
        if isinstance(value, dict):
            return self.object(value, key, path, container)
        if isinstance(value, list):
            return [self.value(v, key, join(path, i), container) for i, v in enumerate(value)]
        if isinstance(value, str):
            if key in _CODED:
                return value
            return self.scrub(self.url(value, key) if key in _URL_KEYS else value)
        return value

    def scrub(self, text: str) -> str:
        return self.redactor.scrub_words(text)

    def object(
        self, obj: dict[str, Any], key: str, path: str, container: Entry | None
    ) -> dict[str, Any]:
        kind = obj.get("resourceType")
        if kind == "Patient":
            return self.patient(obj, path)
        if is_person(obj):
            return {"resourceType": kind} if isinstance(kind, str) else {}
        if isinstance(kind, str) and kind != "Bundle" and kind not in HANDLERS:
            unread: dict[str, Any] = {"resourceType": kind}
            if isinstance(obj.get("id"), str):
                unread["id"] = self.scrub(obj["id"])
            return unread
        container = self.containers.get(id(obj), container)
        drop: frozenset[str] = frozenset()
        if "resourceType" not in obj:
            rewritten, drop = self.reference(obj, key, path, container)
            if rewritten is not None:
                return rewritten
        if "code" not in obj and "system" not in obj:  # not a Coding: a display names a party
            drop |= {"display"}
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in drop or k in _FREE_TEXT or (k == "text" and isinstance(v, dict) and "div" in v):
                continue
            out[self.scrub(k)] = self.value(v, k, join(path, k), container)
        resource = obj.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            self.patient_entry(obj, out, resource, join(path, "resource"))
        return out

    # --- patients -----------------------------------------------------------------------------

    def person(self, patient: dict[str, Any], path: str) -> _Person:
        """Pseudonym and new logical id of one Patient resource (computed once)."""
        known = self.people.get(id(patient))
        if known is not None:
            return known
        pseudonym = self.patients.pseudonym_of(Entry(path, patient))
        old = patient.get("id") if isinstance(patient.get("id"), str) else None
        full_url = self.full_urls.get(id(patient))
        new_id = pseudonym or (
            self.logical(old) if old else self.logical(full_url) if full_url else None
        )
        found = self.people[id(patient)] = _Person(pseudonym, new_id)
        return found

    def logical(self, text: str) -> str:
        """A pseudonymous logical id (kept if it already is one)."""
        if PSEUDONYMOUS.fullmatch(text):
            return text
        digest = hmac.new(self.key, _LOGICAL_ID_DOMAIN + text.encode("utf-8"), hashlib.sha256)
        return f"pid-{digest.hexdigest()[:24]}"

    def patient(self, patient: dict[str, Any], path: str) -> dict[str, Any]:
        found = self.person(patient, path)
        out: dict[str, Any] = {"resourceType": "Patient"}
        if found.new_id is not None:
            out["id"] = found.new_id
        if found.pseudonym is not None:
            out["identifier"] = [{"system": PSEUDONYM_SYSTEM, "value": found.pseudonym}]
        return out

    def patient_entry(
        self, entry: dict[str, Any], out: dict[str, Any], patient: dict[str, Any], path: str
    ) -> None:
        """A Bundle entry holding a Patient: ``fullUrl`` and ``request`` follow the new id."""
        new_id = self.person(patient, path).new_id
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url and new_id is not None:  # always has one
            if match := _PATIENT_URL.match(full_url):
                out["fullUrl"] = f"{self.scrub(match.group(1) or '')}Patient/{new_id}"
            else:
                digest = hashlib.sha256(new_id.encode("ascii")).digest()[:16]
                out["fullUrl"] = f"urn:uuid:{uuid.UUID(bytes=digest, version=4)}"
        request = entry.get("request")
        if isinstance(request, dict):
            method = request.get("method")
            reduced: dict[str, Any] = {}
            if method is not None:
                reduced["method"] = self.scrub(method) if isinstance(method, str) else method
            post = method == "POST" or new_id is None
            reduced["url"] = "Patient" if post else f"Patient/{new_id}"
            out["request"] = reduced

    # --- references ---------------------------------------------------------------------------

    def reference(
        self, obj: dict[str, Any], key: str, path: str, container: Entry | None
    ) -> tuple[dict[str, Any] | None, frozenset[str]]:
        """A patient reference rewritten (first), or the keys to drop from a reference under a
        patient key (``subject``, ``source``, ...) that names no patient (second).

        Whether it is a patient's follows ``Patients.resolve`` exactly, so the pseudonym the
        connector derives from the copy is the one it derives from the message.
        """
        raw = obj.get("reference")
        if raw is not None and not isinstance(raw, str):
            return None, frozenset()  # an R5 CodeableReference, or malformed: read as it is
        reference = raw or None
        kind = obj.get("type") if isinstance(obj.get("type"), str) else None
        assume = key in PATIENT_REF_KEYS
        if reference is None and kind is None and not assume:
            return None, frozenset()
        target = (
            self.directory.resolve(reference, container)
            if reference is not None and container is not None
            else None
        )
        to_patient = target is not None and target.resource.get("resourceType") == "Patient"
        strong = (
            kind == "Patient"
            or to_patient
            or (reference is not None and _PATIENT_REFERENCE.search(reference) is not None)
        )
        candidate = strong or (assume and kind is None and target is None)
        idents: list[Ident] = []
        if candidate and self.r.obj(obj, "identifier", path) is not None:
            idents = self.r.identifiers(obj, "identifier", path)
        if not strong and not (candidate and idents):
            if assume and ("identifier" in obj or "display" in obj):
                return None, frozenset({"identifier", "display"})
            return None, frozenset()
        out: dict[str, Any] = {}
        if reference is not None:
            out["reference"] = self.patient_reference(reference, target if to_patient else None)
        if kind is not None:
            out["type"] = kind
        pseudonym = pseudonym_of_identifier(self.key, idents[0], self.r) if idents else None
        if pseudonym is not None:
            out["identifier"] = {"system": PSEUDONYM_SYSTEM, "value": pseudonym}
        return out, frozenset()

    def patient_reference(self, reference: str, target: Entry | None) -> str:
        if "?" in reference:  # conditional: Patient?identifier=...
            return self.url(reference, "reference")
        if target is not None:
            new_id = self.person(target.resource, target.path).new_id
            if new_id is not None:
                return f"#{new_id}" if reference.startswith("#") else f"Patient/{new_id}"
        match = _PATIENT_TAIL.search(reference)
        return f"Patient/{self.logical(match.group(1) if match else reference)}"

    # --- URLs and search parameters -----------------------------------------------------------

    def url(self, text: str, key: str) -> str:
        """``text`` with every ``Patient/<id>`` and every search parameter about a patient
        pseudonymised (``ifNoneExist`` may be parameters only)."""
        base, question, query = text.partition("?")
        if key == "ifNoneExist" and not question:
            base, query = "", text
        base = _PATIENT_SEGMENT.sub(lambda m: f"Patient/{self.patient_id(m.group(1))}", base)
        if not query:
            return base + question
        kind = base.rstrip("/").rsplit("/", 1)[-1]
        params = [self.parameter(p, kind in _PERSON_SEARCH) for p in query.split("&")]
        return base + question + "&".join(params)

    def patient_id(self, old: str) -> str:
        """The id a ``Patient/<old>`` in a URL gets: that of the Patient it names in this
        message, else a keyed hash of ``old``."""
        target = self.directory.resolve(f"Patient/{old}", Entry("", {}))
        if target is not None and target.resource.get("resourceType") == "Patient":
            new_id = self.person(target.resource, target.path).new_id
            if new_id is not None:
                return new_id
        return self.logical(old)

    def parameter(self, param: str, person_search: bool) -> str:
        name, eq, value = param.partition("=")
        chain = unquote(name).lower()
        if not eq or (person_search and chain in _RESULT_PARAMS):
            return param
        if not person_search and not any(p in chain for p in _PATIENT_PARAMS):
            return param
        last = chain.rsplit(".", 1)[-1].split(":", 1)[0]
        items = [self.search_value(unquote(v), last) for v in value.split(",")]
        return f"{name}={','.join(items)}"

    def search_value(self, value: str, last: str) -> str:
        if last == "identifier":
            system, bar, code = value.partition("|")
            if bar and system and code:
                ident = Ident(system, code, (), "url")
                return f"{PSEUDONYM_SYSTEM}|{pseudonym_of_identifier(self.key, ident, self.r)}"
            return REDACTED
        if last in (*_PATIENT_PARAMS, "_id"):
            if match := _PATIENT_TAIL.search(value):
                return f"Patient/{self.patient_id(match.group(1))}"
            if _PLAIN_ID.fullmatch(value):
                return self.patient_id(value)
        return REDACTED


def _top_entries(doc: dict[str, Any]) -> list[Entry]:
    """The message's resources as ``normalise`` sees them (malformed parts left out: the
    connector rejects those when it reads the copy)."""
    if doc.get("resourceType") != "Bundle":
        return [Entry("", doc)]
    entries = doc.get("entry")
    out: list[Entry] = []
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                full_url = entry.get("fullUrl")
                out.append(
                    Entry(
                        join(join("entry", i), "resource"),
                        entry["resource"],
                        full_url if isinstance(full_url, str) and full_url else None,
                    )
                )
    return out


def _full_urls(doc: dict[str, Any]) -> dict[int, str]:
    """``fullUrl`` of every entry-shaped object anywhere, by its resource's identity."""
    found: dict[int, str] = {}
    stack: list[Any] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            resource, full_url = item.get("resource"), item.get("fullUrl")
            if isinstance(resource, dict) and isinstance(full_url, str) and full_url:
                found[id(resource)] = full_url
            stack.extend(item.values())
    return found
