"""FHIR R4/R5 connector: mapping, pseudonyms, R4/R5 detection, rejections and, above all, that
no patient name, MRN, birth date or address ever leaves the connector."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors.base import ConnectorConfig
from connectors.conformance import CONNECTORS_DIR, raw_message
from connectors.fhir import resources
from connectors.fhir.codes import PSEUDONYM_SYSTEM
from connectors.fhir.normalise import FhirConnector
from connectors.fhir.prepare import Pseudonymiser
from hub.errors import NormalisationError
from hub.events.ids import event_id
from hub.events.models import (
    ClinicalDetail,
    CorrectionDetail,
    Event,
    EventType,
    MaterialDetail,
    PatientStatusDetail,
    ScheduleDetail,
)
from hub.events.pseudonym import pseudonymise

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS", "REQ-INV-05")

SAMPLES = CONNECTORS_DIR / "fhir" / "samples"
BAD = CONNECTORS_DIR / "fhir" / "bad"
KEY = b"test-pseudonym-key"
CONNECTOR = FhirConnector(ConnectorConfig(pseudonym_key=KEY))
MRN_A = ("https://ehr.bostonapheresis.example/mrn", "MRN-40417733")
MRN_B = ("https://ehr.philly-cti.example/mrn", "MRN-80926514")
MRN_C = ("https://ehr.stlouis-onc.example/mrn", "MRN-55120987")
BAD_CODES = {
    "bad-coi-check-character.json": "INVALID_IDENTIFIER",
    "bad-din.json": "INVALID_IDENTIFIER",
    "bundle-without-usable-resource.json": "NO_USABLE_RESOURCE",
    "coi-conflict-with-order.json": "COI_CONFLICT",
    "coi-holds-the-mrn.json": "INVALID_IDENTIFIER",
    "date-only-performed.json": "TIMEZONE_MISSING",
    "datetime-without-offset.json": "TIMEZONE_MISSING",
    "infusion-time-without-offset.json": "TIMEZONE_MISSING",
    "missing-resource-type.json": "MISSING_FIELD",
    "mrn-as-order-number.json": "PII_GUARD",
    "not-json.json": "NOT_JSON",
    "r4-r5-version-conflict.json": "FHIR_VERSION_CONFLICT",
    "unknown-resource-type.json": "UNSUPPORTED_RESOURCE",
}


def process(doc: dict[str, Any] | bytes, connector: FhirConnector = CONNECTOR) -> Any:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return connector.process(raw_message(connector, payload, ".json"))


def run(doc: dict[str, Any] | bytes) -> list[Event]:
    result = process(doc)
    assert result.rejection is None, result.rejection
    return list(result.events)


def rejected(doc: dict[str, Any] | bytes) -> Any:
    result = process(doc)
    assert result.rejection is not None, result.events
    return result.rejection


def load(name: str, folder: Path = SAMPLES) -> Any:
    return json.loads((folder / name).read_text())


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- what must never leak: collected independently of the connector's own privacy code ------


def identity_values(doc: Any) -> set[str]:
    """Names, identifier values, birth dates, addresses and phone numbers of every Patient, and
    the identifier values and displays of every subject/source reference."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("resourceType") == "Patient":
            for name in item.get("name", []):
                found.update(name.get("given", []))
                found.update(v for k in ("family", "text") if (v := name.get(k)))
            found.update(i["value"] for i in item.get("identifier", []) if "value" in i)
            found.update(t["value"] for t in item.get("telecom", []) if "value" in t)
            if "birthDate" in item:
                found.add(item["birthDate"])
            for address in item.get("address", []):
                found.update(address.get("line", []))
                found.update(v for k in ("city", "postalCode") if (v := address.get(k)))
        for key in ("subject", "source"):
            ref = item.get(key)
            if isinstance(ref, dict):
                if isinstance(ref.get("identifier"), dict):
                    found.add(ref["identifier"]["value"])
                if "display" in ref:
                    found.add(ref["display"])
        stack.extend(item.values())
    return found


SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))
BAD_FILES = sorted(BAD.glob("*.json"))
ALL_IDENTITY = set().union(*(identity_values(load(p.name)) for p in SAMPLE_FILES))


def test_samples_do_carry_patient_identity() -> None:
    """Without identity in the samples the leak tests below would prove nothing."""
    assert {
        "Marguerite",
        "Okonkwo-Lindqvist",
        "MRN-40417733",
        "999-41-7733",
        "1961-08-23",
        "17 Larchwood Terrace",
        "Tobias Wrenfield-Achterberg",
        "MRN-80926514",
        "1974-02-09",
        "Henrietta",
        "MRN-55120987",
        "1983-11-30",
    } <= ALL_IDENTITY


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_no_patient_identity_in_any_event(path: Path) -> None:
    secrets = identity_values(load(path.name))
    assert secrets, path.name
    events = run(path.read_bytes())
    assert events
    for event in events:
        text = event.model_dump_json().lower()
        leaked = sorted(s for s in secrets if s.lower() in text)
        assert not leaked, f"{path.name}: {event.event_type} carries {leaked}"
        assert event.patient_ref is None or event.patient_ref.startswith("pt-")


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.name for p in BAD_FILES])
def test_no_patient_identity_in_any_rejection(path: Path) -> None:
    text = path.read_text()
    try:
        # missing-resource-type.json is a Patient without its resourceType: identity_values
        # finds nothing in it, so every file is checked against all the samples' identity
        secrets = identity_values(json.loads(text)) | ALL_IDENTITY
    except json.JSONDecodeError:
        secrets = ALL_IDENTITY  # the truncated copy of a sample
    assert secrets
    rejection = rejected(path.read_bytes())
    shown = " ".join(
        str(v) for v in (rejection.reason, rejection.field, rejection.message_id)
    ).lower()
    assert not sorted(s for s in secrets if s.lower() in shown)


@pytest.mark.parametrize(("name", "code"), sorted(BAD_CODES.items()))
def test_bad_files_are_rejected_with_their_code(name: str, code: str) -> None:
    assert rejected((BAD / name).read_bytes()).code == code


def test_every_bad_file_has_an_expected_code() -> None:
    assert {p.name for p in BAD.iterdir()} == set(BAD_CODES)


def test_a_coi_holding_the_mrn_is_not_echoed() -> None:
    rejection = rejected((BAD / "coi-holds-the-mrn.json").read_bytes())
    assert "<redacted>" in rejection.reason
    assert "MRN-40417733" not in rejection.reason


def test_an_event_that_would_carry_the_mrn_is_refused() -> None:
    rejection = rejected((BAD / "mrn-as-order-number.json").read_bytes())
    assert rejection.field == "events[0].identifiers.order_id"
    assert "MRN" not in rejection.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=16),
    given_name=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=16),
    mrn=st.text("0123456789", min_size=8, max_size=12),
    birth=st.dates(min_value=datetime(1930, 1, 1).date(), max_value=datetime(2015, 1, 1).date()),
)
def test_any_patient_identity_stays_out(family: str, given_name: str, mrn: str, birth: Any) -> None:
    doc = load("r4-order-collection-bundle.json")
    patient = doc["entry"][0]["resource"]
    patient["name"] = [{"family": family, "given": [given_name], "text": f"{given_name} {family}"}]
    patient["identifier"][0]["value"] = mrn
    patient["birthDate"] = birth.isoformat()
    for entry in doc["entry"][1:3]:  # the order and the procedure name their subject
        entry["resource"]["subject"]["display"] = f"{given_name} {family}"
    events = run(doc)
    assert len(events) == 3
    for event in events:
        text = event.model_dump_json()
        assert family not in text
        assert given_name not in text
        assert mrn not in text
        assert birth.isoformat() not in text
        assert event.patient_ref == pseudonymise(KEY, MRN_A[0], mrn)


def test_an_unexpected_failure_hides_its_details(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(scope: Any) -> Any:
        raise ValueError("Okonkwo-Lindqvist MRN-40417733")

    monkeypatch.setitem(resources.HANDLERS, "Procedure", explode)
    with caplog.at_level(logging.DEBUG):
        rejection = rejected((SAMPLES / "r4-order-collection-bundle.json").read_bytes())
    assert rejection.code == "CONNECTOR_ERROR"
    assert "ValueError" in rejection.reason
    assert "Okonkwo" not in rejection.reason
    assert "Okonkwo" not in caplog.text
    assert "MRN-40417733" not in caplog.text


# --- ingress: prepare_raw pseudonymises before the first write to Kafka ----------------------


def identity_strings(doc: Any) -> set[str]:
    """identity_values plus other renderings a leak could take: birth dates as 19610823,
    23.08.1961, 08/23/1961 and 23/08/1961, and Patient logical ids (they may be identifying)."""
    found = identity_values(doc)
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("resourceType") == "Patient":
                if len(item.get("id", "")) >= 6:
                    found.add(item["id"])
                if "birthDate" in item:
                    y, m, d = item["birthDate"].split("-")
                    found |= {f"{y}{m}{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}"}
            stack.extend(item.values())
    return found


def prepared(doc: dict[str, Any] | bytes, connector: FhirConnector = CONNECTOR) -> bytes:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return connector.prepare_raw(payload)


def leaks(payload: bytes, secrets: set[str]) -> list[str]:
    """Secrets found in the bytes, case-insensitively, and in every decoded string and key."""
    text = payload.decode("utf-8").lower()
    strings: list[str] = []
    stack: list[Any] = [json.loads(payload)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item.lower())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            strings.extend(k.lower() for k in item)
            stack.extend(item.values())
    return sorted(s for s in secrets if s.lower() in text or any(s.lower() in v for v in strings))


def patients_of(doc: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("resourceType") == "Patient":
                out.append(item)
            stack.extend(item.values())
    return out


def test_the_connector_says_it_carries_identity() -> None:
    assert FhirConnector.carries_identity is True


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_prepared_samples_carry_no_identity(path: Path) -> None:
    secrets = identity_strings(load(path.name))
    assert secrets
    out = prepared(path.read_bytes())
    assert not leaks(out, secrets), path.name
    assert not leaks(out, ALL_IDENTITY), path.name


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_prepared_samples_give_exactly_the_same_events(path: Path) -> None:
    original = run(path.read_bytes())
    again = run(prepared(path.read_bytes()))
    assert again == original
    assert any(e.patient_ref for e in original)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_prepare_raw_is_idempotent(path: Path) -> None:
    once = prepared(path.read_bytes())
    assert prepared(once) == once


# The samples holding a Patient resource; the others name their patient by a subject identifier.
WITH_PATIENT = [
    "r4-order-collection-bundle.json",
    "r5-product-infusion-bundle.json",
    "r5-single-apheresis-contained-patient.json",
]
WITHOUT_PATIENT = sorted({p.name for p in SAMPLE_FILES} - set(WITH_PATIENT))


def test_the_samples_with_a_patient_are_the_named_ones() -> None:
    """Keeps the two tests below from running over an empty or stale list."""
    assert [p.name for p in SAMPLE_FILES if patients_of(load(p.name))] == WITH_PATIENT
    assert WITHOUT_PATIENT == [
        "r4-procedure-entered-in-error.json",
        "r4-service-request-revoked.json",
        "r4-single-procedure-subject-identifier.json",
    ]


@pytest.mark.parametrize("name", WITH_PATIENT)
def test_patients_keep_only_type_pseudonymous_id_and_pseudonym(name: str) -> None:
    refs = {e.patient_ref for e in run((SAMPLES / name).read_bytes())}
    out = json.loads(prepared((SAMPLES / name).read_bytes()))
    patients = patients_of(out)
    assert len(patients) == len(patients_of(load(name))) > 0
    for patient in patients:
        assert patient["id"] in refs
        assert patient == {
            "resourceType": "Patient",
            "id": patient["id"],
            "identifier": [{"system": PSEUDONYM_SYSTEM, "value": patient["id"]}],
        }
    assert identity_values(out) == refs


@pytest.mark.parametrize("name", WITHOUT_PATIENT)
def test_without_a_patient_only_the_pseudonym_names_the_subject(name: str) -> None:
    original = load(name)
    refs = {e.patient_ref for e in run((SAMPLES / name).read_bytes())}
    assert identity_values(original) - refs  # the MRN the connector has to replace
    out = json.loads(prepared((SAMPLES / name).read_bytes()))
    assert patients_of(out) == []
    (ref,) = refs
    assert ref is not None
    assert out["subject"] == {"identifier": {"system": PSEUDONYM_SYSTEM, "value": ref}}
    assert identity_values(out) == refs


def test_prepared_bundle_references_follow_the_pseudonymous_id() -> None:
    doc = json.loads(prepared((SAMPLES / "r4-order-collection-bundle.json").read_bytes()))
    pseudonym = pseudonymise(KEY, *MRN_A)
    patient_entry, order, procedure, product_entry = doc["entry"]
    assert patient_entry["resource"]["id"] == pseudonym
    assert patient_entry["request"] == {"method": "PUT", "url": f"Patient/{pseudonym}"}
    assert patient_entry["fullUrl"].startswith("urn:uuid:")
    assert patient_entry["fullUrl"] != "urn:uuid:3f2b6c1e-8d4a-4f0b-9a7e-000000000001"
    assert order["resource"]["subject"] == {"reference": f"Patient/{pseudonym}"}
    assert procedure["resource"]["subject"] == {"reference": f"Patient/{pseudonym}"}
    assert "note" not in procedure["resource"]
    assert product_entry["resource"]["collection"]["source"] == {
        "reference": f"Patient/{pseudonym}"
    }
    # what the hub reads stays as it was
    assert order["resource"]["identifier"][1]["value"] == "ORD-2026-118842"
    assert order["resource"]["requester"] == {"reference": "Practitioner/dr-ames-0042"}


def test_a_subject_identifier_becomes_the_pseudonym_identifier() -> None:
    doc = json.loads(prepared((SAMPLES / "r4-service-request-revoked.json").read_bytes()))
    assert doc["subject"] == {
        "identifier": {"system": PSEUDONYM_SYSTEM, "value": pseudonymise(KEY, *MRN_A)}
    }


def test_contained_patient_and_its_local_reference() -> None:
    doc = json.loads(
        prepared((SAMPLES / "r5-single-apheresis-contained-patient.json").read_bytes())
    )
    pseudonym = pseudonymise(KEY, *MRN_C)
    assert doc["contained"] == [
        {
            "resourceType": "Patient",
            "id": pseudonym,
            "identifier": [{"system": PSEUDONYM_SYSTEM, "value": pseudonym}],
        }
    ]
    assert doc["subject"] == {"reference": f"#{pseudonym}"}


def test_resources_the_hub_does_not_read_keep_only_type_and_id() -> None:
    doc = json.loads(prepared((SAMPLES / "r5-product-infusion-bundle.json").read_bytes()))
    kept = {e["resource"]["resourceType"]: e["resource"] for e in doc["entry"]}
    assert kept["Observation"] == {"resourceType": "Observation", "id": "obs-1"}
    assert kept["Practitioner"] == {"resourceType": "Practitioner", "id": "onc-md-3"}
    assert doc["entry"][0]["fullUrl"].endswith(f"/Patient/{pseudonymise(KEY, *MRN_B)}")


def test_a_patient_without_identifier_gets_a_keyed_pseudonymous_id() -> None:
    doc = load("r4-order-collection-bundle.json")
    del doc["entry"][0]["resource"]["identifier"]
    doc["entry"][1]["resource"]["subject"] = {"reference": "Patient/pat-7731"}
    out = prepared(doc)
    assert not leaks(out, {"pat-7731", "3f2b6c1e-8d4a-4f0b-9a7e-000000000001"})
    copy = json.loads(out)
    (patient,) = patients_of(copy)
    assert patient["id"].startswith("pid-")
    assert set(patient) == {"resourceType", "id"}
    assert copy["entry"][1]["resource"]["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert copy["entry"][2]["resource"]["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert run(out) == run(doc)
    assert {e.patient_ref for e in run(doc)} == {None}
    other = FhirConnector(ConnectorConfig(pseudonym_key=b"another-key"))
    assert patients_of(json.loads(prepared(doc, other)))[0]["id"] != patient["id"]


def test_an_unknown_patient_reference_is_hashed() -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["subject"] = {"reference": "Patient/pat-7731", "display": "Marguerite Okonkwo-Lindqvist"}
    out = prepared(doc)
    assert not leaks(out, {"pat-7731", "Marguerite", "Okonkwo"})
    reference = json.loads(out)["subject"]["reference"]
    assert reference.startswith("Patient/pid-")
    assert run(out) == run(doc)
    assert prepared(out) == out


def test_codes_equal_to_an_identity_are_left_alone() -> None:
    """A patient called Active Order whose MRN equals the SNOMED code of apheresis: codes are
    vocabulary, not identity, so the events stay what they were; free-text copies of those
    values do go."""
    doc = load("r4-order-collection-bundle.json")
    patient = doc["entry"][0]["resource"]
    patient["name"] = [{"family": "Order", "given": ["Active"]}]
    patient["identifier"][0]["value"] = "127788007"
    doc["entry"][2]["resource"]["outcome"] = {"text": "Order, Active (127788007) fine"}
    out = json.loads(prepared(doc))
    order, procedure = out["entry"][1]["resource"], out["entry"][2]["resource"]
    assert (order["status"], order["intent"]) == ("active", "order")
    assert procedure["code"]["coding"][0]["code"] == "127788007"
    assert procedure["outcome"] == {"text": "<redacted>, <redacted> (<redacted>) fine"}
    events = run(doc)
    assert [e.event_type for e in events] == [
        EventType.THERAPY_ORDERED,
        EventType.COLLECTION_COMPLETED,
        EventType.COLLECTION_COMPLETED,
    ]
    assert run(json.dumps(out).encode()) == events


def test_an_identifier_in_the_pseudonym_system_is_taken_as_it_is() -> None:
    pseudonym = pseudonymise(KEY, *MRN_A)
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["subject"] = {"identifier": {"system": PSEUDONYM_SYSTEM, "value": pseudonym}}
    (event,) = run(doc)
    assert event.patient_ref == pseudonym
    assert prepared(doc) == prepared(load("r4-single-procedure-subject-identifier.json"))


@pytest.mark.parametrize("value", ["MRN-40417733", "pt-ABCDEF", "pt-" + "0" * 23, " pt-x"])
def test_a_pseudonym_system_identifier_that_is_no_pseudonym_is_refused(value: str) -> None:
    doc = load("r4-order-collection-bundle.json")
    doc["entry"][0]["resource"]["identifier"].append({"system": PSEUDONYM_SYSTEM, "value": value})
    with pytest.raises(NormalisationError) as refused:
        prepared(doc)
    assert refused.value.code == "INVALID_IDENTIFIER"
    assert refused.value.field == "entry[0].resource.identifier[2].value"
    assert value.strip() not in refused.value.reason
    assert rejected(doc).code == "INVALID_IDENTIFIER"
    subject = load("r4-single-procedure-subject-identifier.json")
    subject["subject"]["identifier"]["system"] = PSEUDONYM_SYSTEM
    subject["subject"]["identifier"]["value"] = value
    with pytest.raises(NormalisationError, match="pseudonym"):
        prepared(subject)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe not even UTF-8", "NOT_UTF8"),
        (b'{"resourceType": "Patient", "name": [{"family": "Okonkwo-Lindqvist"', "NOT_JSON"),
        (b'[{"resourceType": "Patient"}]', "NOT_AN_OBJECT"),
        (b'{"name": "Okonkwo-Lindqvist", "mrn": "MRN-40417733"}', "MISSING_FIELD"),
        (b'{"resourceType": 7, "name": "Okonkwo-Lindqvist"}', "MALFORMED"),
        (
            b'{"resourceType": "Patient", "identifier": "MRN-40417733", "name": "Okonkwo"}',
            "MALFORMED",
        ),
        (
            b'{"resourceType": "Bundle", "x": ' + b"[" * 700 + b"]" * 700 + b"}",
            "CANNOT_PSEUDONYMISE",
        ),
    ],
)
def test_what_cannot_be_pseudonymised_is_refused(payload: bytes, code: str) -> None:
    with pytest.raises(NormalisationError) as refused:
        CONNECTOR.prepare_raw(payload)
    assert refused.value.code == code
    assert refused.value.reason
    assert "Okonkwo" not in str(refused.value)
    assert "MRN-40417733" not in str(refused.value)
    assert process(payload).rejection.code == code


# Bad files the edge refuses outright: nothing of them is written to Kafka.
REFUSED_AT_THE_EDGE = {"missing-resource-type.json", "not-json.json"}


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.name for p in BAD_FILES])
def test_bad_files_are_refused_or_prepared_without_identity(path: Path) -> None:
    try:
        secrets = identity_strings(json.loads(path.read_text())) | ALL_IDENTITY
    except json.JSONDecodeError:
        secrets = ALL_IDENTITY
    if path.name in REFUSED_AT_THE_EDGE:
        with pytest.raises(NormalisationError) as refused:
            CONNECTOR.prepare_raw(path.read_bytes())
        assert refused.value.code == BAD_CODES[path.name]  # the reason normalise gives
        assert refused.value.reason
        assert not leaks(json.dumps([refused.value.reason, refused.value.field]).encode(), secrets)
        return
    out = CONNECTOR.prepare_raw(path.read_bytes())
    assert not leaks(out, secrets), path.name
    assert prepared(out) == out
    assert rejected(out) == rejected(path.read_bytes())


def test_an_unexpected_failure_of_prepare_raw_hides_its_details(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any) -> Any:
        raise ValueError("Okonkwo-Lindqvist MRN-40417733")

    monkeypatch.setattr(Pseudonymiser, "document", explode)
    with caplog.at_level(logging.DEBUG), pytest.raises(NormalisationError) as refused:
        CONNECTOR.prepare_raw((SAMPLES / "r4-order-collection-bundle.json").read_bytes())
    assert refused.value.code == "CONNECTOR_ERROR"
    assert "ValueError" in refused.value.reason
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__
    for text in (str(refused.value), caplog.text):
        assert "Okonkwo" not in text
        assert "MRN-40417733" not in text


NAMES = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=16)
DIGITS = st.text("0123456789", min_size=8, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=NAMES,
    given_name=NAMES,
    mrn=DIGITS,
    ssn=st.from_regex(r"\A9\d\d-\d\d-\d{4}\Z"),
    phone=st.from_regex(r"\A\+1-\d{3}-555-\d{4}\Z"),
    street=NAMES,
    birth=st.dates(min_value=datetime(1930, 1, 1).date(), max_value=datetime(2015, 1, 1).date()),
)
def test_injected_identity_never_survives_prepare_raw(
    family: str, given_name: str, mrn: str, ssn: str, phone: str, street: str, birth: Any
) -> None:
    doc = load("r4-order-collection-bundle.json")
    original = json.dumps(doc).lower()
    born = birth.isoformat()
    secrets = {family, given_name, mrn, ssn, phone, f"{street} Road", born}
    secrets |= {birth.strftime(f) for f in ("%Y%m%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y")}
    for secret in secrets:  # chance collisions with the sample's own text prove nothing
        assume(secret.lower() not in original)
    full = f"{given_name} {family}"
    patient = doc["entry"][0]["resource"]
    patient["name"] = [{"family": family, "given": [given_name], "text": full}]
    patient["identifier"][0]["value"] = mrn
    patient["identifier"][1]["value"] = ssn
    patient["telecom"] = [{"system": "phone", "value": phone}]
    patient["birthDate"] = born
    patient["address"] = [{"line": [f"{street} Road"], "city": "Brookline"}]
    patient["contact"] = [{"name": {"family": family, "given": ["Alma"]}}]
    patient["photo"] = [{"contentType": "image/png", "title": full, "data": "aGVsbG8="}]
    patient["text"] = {"status": "generated", "div": f"<div>{full}, {born}</div>"}
    order = doc["entry"][1]["resource"]
    order["subject"]["display"] = full
    order["code"]["text"] = f"CAR-T for {full} (MRN {mrn}, born {birth:%d.%m.%Y})"
    order["patientInstruction"] = f"{given_name}: call {phone}"
    procedure = doc["entry"][2]["resource"]
    procedure["outcome"] = {"text": f"{family} {ssn} {mrn} {birth:%Y%m%d} {birth:%m/%d/%Y}"}
    doc["entry"][0]["request"]["ifNoneExist"] = f"identifier=https://mrn|{mrn}"
    out = prepared(doc)
    assert not leaks(out, secrets)
    assert prepared(out) == out
    events = run(out)
    assert events == run(doc)
    assert len(events) == 3
    assert {e.patient_ref for e in events} == {pseudonymise(KEY, MRN_A[0], mrn)}


# --- pseudonyms -----------------------------------------------------------------------------


def test_same_patient_same_pseudonym_from_every_resource_and_message() -> None:
    expected = pseudonymise(KEY, *MRN_A)
    bundle = run((SAMPLES / "r4-order-collection-bundle.json").read_bytes())
    single = run((SAMPLES / "r4-single-procedure-subject-identifier.json").read_bytes())
    revoked = run((SAMPLES / "r4-service-request-revoked.json").read_bytes())
    assert {e.patient_ref for e in [*bundle, *single, *revoked]} == {expected}
    r5 = run((SAMPLES / "r5-product-infusion-bundle.json").read_bytes())
    assert {e.patient_ref for e in r5} == {pseudonymise(KEY, *MRN_B)}
    (contained,) = run((SAMPLES / "r5-single-apheresis-contained-patient.json").read_bytes())
    assert contained.patient_ref == pseudonymise(KEY, *MRN_C)


def test_pseudonym_depends_on_the_key() -> None:
    other = FhirConnector(ConnectorConfig(pseudonym_key=b"another-key"))
    result = process((SAMPLES / "r4-single-procedure-subject-identifier.json").read_bytes(), other)
    (event,) = result.events
    assert event.patient_ref == pseudonymise(b"another-key", *MRN_A)
    assert event.patient_ref != pseudonymise(KEY, *MRN_A)


def test_unresolvable_patient_reference_gives_no_pseudonym() -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["subject"] = {"reference": "Patient/pat-7731", "display": "Marguerite Okonkwo-Lindqvist"}
    (event,) = run(doc)
    assert event.patient_ref is None
    assert "pat-7731" not in event.model_dump_json()


def test_mrn_is_the_identifier_typed_mr_not_the_first() -> None:
    doc = load("r4-order-collection-bundle.json")
    patient = doc["entry"][0]["resource"]
    patient["identifier"].reverse()  # the SSN now comes first
    events = run(doc)
    assert {e.patient_ref for e in events} == {pseudonymise(KEY, *MRN_A)}


# --- mapping --------------------------------------------------------------------------------


def test_r4_bundle_order_and_collection() -> None:
    ordered, procedure, product = run((SAMPLES / "r4-order-collection-bundle.json").read_bytes())
    assert ordered.event_type is EventType.THERAPY_ORDERED
    assert ordered.event_id == event_id("fhir", "ServiceRequest/sr-240001/_history/3", 0)
    assert ordered.source.system == "ehr-fhir"
    assert ordered.occurred_at == utc(2026, 11, 20, 14, 30)
    assert ordered.coi_id == "V2VSAMPLE000001T"
    assert ordered.identifiers.order_id == "ORD-2026-118842"
    assert ordered.identifiers.other["fhir_version"] == "R4"
    assert ordered.actor is not None
    assert (ordered.actor.id, ordered.actor.role) == ("Practitioner/dr-ames-0042", "requester")
    schedule = ordered.detail
    assert isinstance(schedule, ScheduleDetail)
    assert schedule.product_profile == "cart-fresh-48h"
    assert schedule.planned_infusion_at == utc(2026, 12, 18, 13)
    assert schedule.treatment_site == "Location/bac-infusion-suite"

    assert procedure.event_type is EventType.COLLECTION_COMPLETED  # SNOMED 127788007
    assert procedure.occurred_at == utc(2026, 11, 24, 16, 55)
    assert procedure.coi_id == "V2VSAMPLE000001T"  # through basedOn -> ServiceRequest
    assert procedure.identifiers.order_id == "ORD-2026-118842"
    assert procedure.location is not None
    assert procedure.location.id == "Location/bac-apheresis-unit"
    assert isinstance(procedure.detail, MaterialDetail)
    assert procedure.detail.collection_end == utc(2026, 11, 24, 16, 55)

    assert product.event_type is EventType.COLLECTION_COMPLETED
    assert product.identifiers.din == "=A99991712345600"
    assert product.identifiers.other["fhir_status"] == "available"
    assert isinstance(product.detail, MaterialDetail)
    assert (product.detail.material_type, product.detail.quantity) == ("cells", 1.0)
    assert product.detail.container_id == "BAG-7731-01"
    assert product.source.message_id.startswith("BiologicallyDerivedProduct/bdp-240001/_content/")


def test_r5_bundle_product_to_infusion() -> None:
    events = run((SAMPLES / "r5-product-infusion-bundle.json").read_bytes())
    assert [e.event_type for e in events] == [
        EventType.THERAPY_ORDERED,
        EventType.COLLECTION_COMPLETED,
        EventType.LYMPHODEPLETION_STARTED,
        EventType.PRODUCT_THAWED,
        EventType.INFUSION_COMPLETED,
    ]
    assert {e.identifiers.other["fhir_version"] for e in events} == {"R5"}
    assert {e.coi_id for e in events} == {"V2VSAMPLE000002R"}
    ordered, product, ld, thaw, infusion = events
    assert isinstance(ordered.detail, ScheduleDetail)
    assert ordered.detail.product_profile == "cart-cryo-120"  # from orderDetail.parameter
    assert ordered.detail.planned_infusion_at == utc(2026, 11, 30, 8)
    assert ordered.detail.treatment_site == "Location/cti-ward-5"
    assert product.identifiers.din == "=B12342612345700"  # biologicalSourceEvent
    assert isinstance(product.detail, MaterialDetail)
    assert product.detail.expires_at == utc(2027, 11, 30)
    assert product.identifiers.other["fhir_status"] == "available"  # productStatus
    assert ld.occurred_at == utc(2026, 11, 26, 7, 30)
    assert isinstance(ld.detail, ClinicalDetail)
    assert (ld.detail.procedure, ld.detail.status) == ("lymphodepletion", "in-progress")
    assert thaw.occurred_at == utc(2026, 12, 1, 8, 5)
    assert infusion.occurred_at == utc(2026, 12, 1, 8, 58)  # period end
    assert infusion.identifiers.order_id == "ServiceRequest/sr-88120"


def test_entered_in_error_and_revoked() -> None:
    (correction,) = run((SAMPLES / "r4-procedure-entered-in-error.json").read_bytes())
    assert correction.event_type is EventType.RECORD_CORRECTED
    assert isinstance(correction.detail, CorrectionDetail)
    assert correction.detail.corrected_event_ids == ["Procedure/proc-aph-240001"]
    assert correction.detail.declared_at == utc(2026, 11, 24, 20, 2, 11, 120000)
    (revoked,) = run((SAMPLES / "r4-service-request-revoked.json").read_bytes())
    assert revoked.event_type is EventType.PATIENT_STATUS_CHANGED
    assert isinstance(revoked.detail, PatientStatusDetail)
    assert revoked.detail.status == "ORDER_REVOKED"


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("apheresis", "completed", EventType.COLLECTION_COMPLETED),
        ("apheresis", "in-progress", None),
        ("lymphodepletion", "preparation", None),
        ("lymphodepletion", "stopped", EventType.LYMPHODEPLETION_STARTED),
        ("thaw", "completed", EventType.PRODUCT_THAWED),
        ("thaw", "in-progress", None),
        ("infusion", "completed", EventType.INFUSION_COMPLETED),
        ("infusion", "not-done", None),
        ("infusion", "entered-in-error", EventType.RECORD_CORRECTED),
    ],
)
def test_procedure_status_decides(code: str, status: str, expected: EventType | None) -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["code"]["coding"][0]["code"] = code
    doc["status"] = status
    result = process(doc)
    if expected is None:
        assert result.rejection is not None
        assert result.rejection.code == "NO_USABLE_RESOURCE"
    else:
        assert [e.event_type for e in result.events] == [expected]


def test_a_proposal_is_not_an_order() -> None:
    doc = load("r4-order-collection-bundle.json")
    doc["entry"][1]["resource"]["intent"] = "proposal"
    assert [e.event_type for e in run(doc)] == [EventType.COLLECTION_COMPLETED] * 2


# --- versions, times, identifiers ------------------------------------------------------------


def product(**fields: Any) -> dict[str, Any]:
    doc = load("r5-product-infusion-bundle.json")["entry"][2]["resource"]
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def test_r4_and_r5_product_shapes() -> None:
    (r5,) = run(product())
    assert r5.identifiers.other["fhir_version"] == "R5"
    r4_doc = product(
        productCategory="cells",
        productStatus=None,
        biologicalSourceEvent=None,
        expirationDate=None,
        status="unavailable",
    )
    (r4,) = run(r4_doc)
    assert r4.identifiers.other["fhir_version"] == "R4"
    assert r4.identifiers.other["fhir_status"] == "unavailable"
    assert isinstance(r4.detail, MaterialDetail)
    assert r4.detail.material_type == "cells"
    assert r4.identifiers.din is None
    assert rejected(product(status="available")).code == "FHIR_VERSION_CONFLICT"


def test_procedure_r4_performed_and_r5_occurrence_cannot_mix() -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["occurrenceDateTime"] = doc["performedDateTime"]
    assert rejected(doc).code == "FHIR_VERSION_CONFLICT"
    del doc["performedDateTime"], doc["asserter"]
    (event,) = run(doc)
    assert event.identifiers.other["fhir_version"] == "R5"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2026-12-18", "TIMEZONE_MISSING"),
        ("2026-12", "TIMEZONE_MISSING"),
        ("2026-12-18T08:12:00", "TIMEZONE_MISSING"),
        ("2026-12-18T08:12", "TIMEZONE_MISSING"),
        ("18/12/2026 08:12", "BAD_TIMESTAMP"),
        ("9999-12-31T23:59:59-14:00", "BAD_TIMESTAMP"),
    ],
)
def test_times_need_a_time_of_day_and_an_offset(value: str, code: str) -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["performedDateTime"] = value
    rejection = rejected(doc)
    assert (rejection.code, rejection.field) == (code, "performedDateTime")
    assert value not in rejection.reason


def test_fractional_seconds_and_z_are_fine() -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["performedDateTime"] = "2026-12-18T13:12:00.123456Z"
    (event,) = run(doc)
    assert event.occurred_at == utc(2026, 12, 18, 13, 12, 0, 123456)


def test_coi_rules() -> None:
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["identifier"][0]["value"] = "&/V2VSAMPLE000001T"
    (event,) = run(doc)
    assert event.coi_id == "V2VSAMPLE000001T"
    del doc["identifier"]
    (event,) = run(doc)
    assert event.coi_id is None
    doc["identifier"] = [{"system": "https://v2v-hub.org/fhir/NamingSystem/coi", "value": "V2V1"}]
    assert rejected(doc).code == "INVALID_IDENTIFIER"


def test_single_patient_and_unknown_resources() -> None:
    patient = load("r4-order-collection-bundle.json")["entry"][0]["resource"]
    rejection = rejected(patient)
    assert rejection.code == "NO_USABLE_RESOURCE"
    assert rejection.message_id is None
    assert rejected({"resourceType": "Observation"}).code == "UNSUPPORTED_RESOURCE"
    assert rejected({"resourceType": "Bundle", "type": "batch"}).code == "NO_USABLE_RESOURCE"


def test_the_same_resource_twice_in_a_bundle_counts_once() -> None:
    doc = load("r4-order-collection-bundle.json")
    doc["entry"].append(copy.deepcopy(doc["entry"][1]))
    assert len(run(doc)) == 3
    doc["entry"][-1]["resource"]["status"] = "completed"
    assert rejected(doc).code == "DUPLICATE_RESOURCE"


def test_event_ids_are_deterministic_and_versioned() -> None:
    first = run((SAMPLES / "r4-single-procedure-subject-identifier.json").read_bytes())
    again = run((SAMPLES / "r4-single-procedure-subject-identifier.json").read_bytes())
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id == event_id("fhir", "Procedure/proc-thaw-240001/_history/1", 0)
    doc = load("r4-single-procedure-subject-identifier.json")
    doc["meta"]["versionId"] = "2"
    assert run(doc)[0].event_id != first[0].event_id
