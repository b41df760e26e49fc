"""The FHIR connector over HL7's own published R4 examples (``tests/data/fhir-published``).

Every kept example has an expected outcome under the default partner configuration and under a
test partner that maps a few of the published codes (a harness for the code paths, not a
clinical mapping): accepted (with its events), passed over (nothing in it is for the hub:
``NO_USABLE_RESOURCE``), or refused with its reason. And for every one, the bytes
``prepare_raw`` writes to the raw topic hold no patient identity value.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorConfig
from connectors.conformance import CONNECTORS_DIR, raw_message
from connectors.fhir.codes import PSEUDONYM_SYSTEM
from connectors.fhir.config import FhirPartnerConfig
from connectors.fhir.normalise import FhirConnector
from hub.errors import ConfigurationError
from hub.events.models import EventType, ScheduleDetail
from hub.events.pseudonym import pseudonymise

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

PUBLISHED = Path(__file__).resolve().parents[2] / "data" / "fhir-published"
SAMPLES = CONNECTORS_DIR / "fhir" / "samples"
KEY = b"test-pseudonym-key"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
DEFAULT = FhirConnector(ConnectorConfig(pseudonym_key=KEY))
# A partner whose EHR codes lymphodepleting chemotherapy with the generic SNOMED concept and
# orders with LOINC / SNOMED codes of its own choosing.
TEST_PARTNER = {
    "procedure_codes": {f"{SNOMED}|367336001": "lymphodepletion"},
    "therapy_order_codes": {
        f"{LOINC}|47403-1": "profile-pgx",
        f"{SNOMED}|359962006": "profile-do-not-turn",
        f"{SNOMED}|40617009": "profile-vent",
    },
}
MAPPED = FhirConnector(ConnectorConfig(pseudonym_key=KEY, partner_options=TEST_PARTNER))

FILES = sorted(PUBLISHED.glob("*.json"))
PASSED = "passed over"
ACCEPTED = "accepted"
# Outcomes with the default configuration: nothing published is a cell-therapy step.
DEFAULT_OUTCOME = dict.fromkeys((p.name for p in FILES), PASSED)
# Outcomes for the test partner; every other file is passed over as with the defaults.
MAPPED_OUTCOME = {
    "Procedure-f201.json": ACCEPTED,
    "ServiceRequest-example-pgx.json": ACCEPTED,
    "ServiceRequest-do-not-turn.json": PASSED,  # mapped, but doNotPerform
    "ServiceRequest-vent.json": "TIMEZONE_MISSING",  # mapped, authoredOn is a date only
}


def process(doc: dict[str, Any] | bytes, connector: FhirConnector = DEFAULT) -> Any:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return connector.process(raw_message(connector, payload, ".json"))


def outcome(result: Any) -> str:
    if result.rejection is None:
        assert result.events
        return ACCEPTED
    if result.rejection.code == "NO_USABLE_RESOURCE":
        return PASSED
    return str(result.rejection.code)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- identity, collected independently of the connector's privacy code ---------------------

_CONDITIONAL = re.compile(r"identifier=(?:[^&|]*\|)?([^&,]+)")


def identity_values(doc: Any) -> set[str]:
    """Names, identifier values, birth dates, addresses and telecom of every Patient anywhere
    (entries, contained), reference displays naming a patient, and identifier values in search
    URLs (``Patient?identifier=...``, ``patient.identifier=...``)."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if isinstance(item, str):
            if "identifier=" in item and ("Patient" in item or "patient" in item):
                found.update(_CONDITIONAL.findall(item))
            continue
        if not isinstance(item, dict):
            continue
        if item.get("resourceType") == "Patient":
            for name in item.get("name", []):
                found.update(name.get("given", []))
                found.update(v for k in ("family", "text") if (v := name.get(k)))
            found.update(i["value"] for i in item.get("identifier", []) if "value" in i)
            found.update(t["value"] for t in item.get("telecom", []) if "value" in t)
            found.update(v for k in ("birthDate",) if (v := item.get(k)))
            for address in item.get("address", []):
                found.update(address.get("line", []))
                found.update(v for k in ("city", "postalCode", "text") if (v := address.get(k)))
        ref = item.get("subject")
        if isinstance(ref, dict) and "Patient" in str(ref.get("reference", "")):
            found.update(v for v in (ref.get("display"),) if v)
        stack.extend(item.values())
    return {v.strip() for v in found if len(v.strip()) >= 3}


def leaked(prepared: bytes, secrets: set[str]) -> list[str]:
    text = prepared.decode()
    return sorted(
        s
        for s in secrets
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(s)}(?![0-9A-Za-z])", text, re.IGNORECASE)
    )


# --- the suite over every published example -----------------------------------------------


def test_every_published_example_has_an_expected_outcome() -> None:
    assert len(FILES) >= 60
    assert set(MAPPED_OUTCOME) <= set(DEFAULT_OUTCOME)
    assert (PUBLISHED / "SOURCE.md").read_text().count(".json`") == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_default_outcome(path: Path) -> None:
    assert outcome(process(path.read_bytes())) == DEFAULT_OUTCOME[path.name]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_outcome_for_a_partner_with_its_own_codes(path: Path) -> None:
    expected = MAPPED_OUTCOME.get(path.name, DEFAULT_OUTCOME[path.name])
    assert outcome(process(path.read_bytes(), MAPPED)) == expected


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_prepared_bytes_carry_no_patient_identity(path: Path) -> None:
    secrets = identity_values(load(path))
    prepared = DEFAULT.prepare_raw(path.read_bytes())
    assert not leaked(prepared, secrets), path.name
    assert DEFAULT.prepare_raw(prepared) == prepared
    for connector in (DEFAULT, MAPPED):
        assert process(prepared, connector) == process(path.read_bytes(), connector)


def test_the_privacy_edge_examples_do_carry_identity() -> None:
    """Without identity in them the check above would prove nothing."""
    for name in ("Bundle-bundle-transaction.json", "Bundle-xds.json", "Bundle-father.json"):
        assert identity_values(load(PUBLISHED / name)), name
    values = identity_values(load(PUBLISHED / "Bundle-bundle-transaction.json")) | identity_values(
        load(PUBLISHED / "Bundle-xds.json")
    )
    assert {"456456", "123456"} <= values
    assert any("89765a87b" in v for v in values)  # an ifNoneExist without a '|'


def test_accepted_published_examples_and_their_events() -> None:
    (ld,) = process((PUBLISHED / "Procedure-f201.json").read_bytes(), MAPPED).events
    assert ld.event_type is EventType.LYMPHODEPLETION_STARTED
    assert ld.occurred_at == utc(2013, 1, 28, 12, 31)
    assert ld.actor is not None
    assert ld.actor.id == "Practitioner/f201"
    assert ld.patient_ref is None  # Patient/f201 is not in the message
    (order,) = process((PUBLISHED / "ServiceRequest-example-pgx.json").read_bytes(), MAPPED).events
    assert order.event_type is EventType.THERAPY_ORDERED
    assert order.occurred_at == utc(2016, 10, 10, 22)
    assert isinstance(order.detail, ScheduleDetail)
    assert order.detail.product_profile == "profile-pgx"
    assert order.identifiers.order_id == "ServiceRequest/example-pgx"


# --- per-partner code maps ------------------------------------------------------------------


def test_default_config_is_todays_constants() -> None:
    assert DEFAULT.partner == FhirPartnerConfig()
    for sample in sorted(SAMPLES.glob("*.json")):
        configured = FhirConnector(
            ConnectorConfig(pseudonym_key=KEY, partner_options={"fhir": FhirPartnerConfig()})
        )
        assert process(sample.read_bytes(), configured) == process(sample.read_bytes())


def test_an_unmapped_code_is_passed_over_and_a_mapped_one_counts() -> None:
    doc = load(SAMPLES / "r4-single-procedure-subject-identifier.json")
    doc["code"]["coding"][0] = {"system": SNOMED, "code": "999000111"}
    assert process(doc).rejection.code == "NO_USABLE_RESOURCE"
    partner = FhirConnector(
        ConnectorConfig(
            pseudonym_key=KEY, partner_options={"procedure_codes": {f"{SNOMED}|999000111": "thaw"}}
        )
    )
    (event,) = process(doc, partner).events
    assert event.event_type is EventType.PRODUCT_THAWED


def test_a_partner_maps_its_own_order_codes_and_identifier_systems() -> None:
    doc = load(SAMPLES / "r4-service-request-revoked.json")
    doc["status"] = "active"
    doc["authoredOn"] = "2026-11-02T09:00:00+01:00"
    doc["code"] = {"coding": [{"system": "urn:site:orders", "code": "CART-1"}]}
    doc["identifier"] = [
        {"system": "urn:site:coi", "value": "&/V2VSAMPLE000001T"},
        {"system": "urn:site:any", "value": "ANY-1"},
        {"system": "urn:site:order", "value": "ORD-77"},
    ]
    assert process(doc).rejection.code == "NO_USABLE_RESOURCE"
    options = {
        "therapy_order_codes": {"urn:site:orders|CART-1": "cart-fresh-48h"},
        "coi_systems": ["urn:site:coi"],
        "order_id_systems": ["urn:site:order"],
    }
    partner = FhirConnector(ConnectorConfig(pseudonym_key=KEY, partner_options=options))
    (event,) = process(doc, partner).events
    assert event.event_type is EventType.THERAPY_ORDERED
    assert isinstance(event.detail, ScheduleDetail)
    assert event.detail.product_profile == "cart-fresh-48h"
    assert event.coi_id == "V2VSAMPLE000001T"
    assert event.identifiers.order_id == "ORD-77"


@pytest.mark.parametrize(
    "options",
    [
        {"procedure_codes": {"no-bar": "thaw"}},
        {"procedure_codes": {f"{SNOMED}|1": "surgery"}},
        {"unknown_field": 1},
    ],
)
def test_bad_partner_options_fail_when_the_connector_is_built(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FhirConnector(ConnectorConfig(partner_options=options))


# --- unrelated resources, doNotPerform, intent and status ---------------------------------


def therapy_bundle() -> dict[str, Any]:
    return load(SAMPLES / "r4-order-collection-bundle.json")  # type: ignore[no-any-return]


def test_unrelated_lab_orders_are_passed_over_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    expected = process(therapy_bundle()).events
    doc = therapy_bundle()
    for name in ("Bundle-f001.json", "Bundle-micro.json"):
        doc["entry"] += load(PUBLISHED / name)["entry"]
    with caplog.at_level(logging.INFO, logger="connectors.fhir.normalise"):
        result = process(doc)
    assert result.rejection is None
    assert [e.event_type for e in result.events] == [e.event_type for e in expected]
    (record,) = [r for r in caplog.records if hasattr(r, "passed_over")]
    assert record.passed_over == {"unmapped-code": 2, "unread-type": 27}
    assert "DiagnosticReport" not in caplog.text  # counts by reason, no partner text


def test_do_not_perform_never_becomes_an_event() -> None:
    doc = therapy_bundle()
    order = doc["entry"][1]["resource"]
    order["doNotPerform"] = True
    assert EventType.THERAPY_ORDERED not in [e.event_type for e in process(doc).events]
    for status in ("revoked", "entered-in-error", "completed"):
        order["status"] = status
        assert [e.event_type for e in process(doc).events] == [EventType.COLLECTION_COMPLETED] * 2


@pytest.mark.parametrize(
    ("intent", "status", "expected"),
    [
        ("order", "active", EventType.THERAPY_ORDERED),
        ("original-order", "on-hold", EventType.THERAPY_ORDERED),
        ("order", "completed", EventType.THERAPY_ORDERED),
        ("order", "revoked", EventType.PATIENT_STATUS_CHANGED),
        ("order", "entered-in-error", EventType.RECORD_CORRECTED),
        ("proposal", "entered-in-error", EventType.RECORD_CORRECTED),
        ("order", "draft", None),
        ("order", "unknown", None),
        ("plan", "active", None),
        ("proposal", "revoked", None),
        ("filler-order", "active", None),
        ("instance-order", "active", None),
        ("reflex-order", "active", None),
        (None, "active", None),
    ],
)
def test_intent_and_status_of_an_order(
    intent: str | None, status: str, expected: EventType | None
) -> None:
    doc = load(SAMPLES / "r4-service-request-revoked.json")
    doc["status"] = status
    doc["authoredOn"] = "2026-11-02T09:00:00+01:00"
    if intent is None:
        del doc["intent"]
    else:
        doc["intent"] = intent
    result = process(doc)
    if expected is None:
        assert result.rejection.code == "NO_USABLE_RESOURCE"
        assert "passed over" in result.rejection.reason
    else:
        assert [e.event_type for e in result.events] == [expected]


def test_a_partner_may_take_other_intents() -> None:
    doc = load(SAMPLES / "r4-service-request-revoked.json")
    doc["status"], doc["intent"] = "active", "instance-order"
    doc["authoredOn"] = "2026-11-02T09:00:00+01:00"
    options = {"order_intents": ["order", "original-order", "instance-order"]}
    partner = FhirConnector(ConnectorConfig(pseudonym_key=KEY, partner_options=options))
    assert [e.event_type for e in process(doc, partner).events] == [EventType.THERAPY_ORDERED]


# --- identity in URLs, search parameters, fullUrls and narrative ----------------------------


def test_patient_identifiers_in_request_urls_are_pseudonymised() -> None:
    doc = json.loads(
        DEFAULT.prepare_raw((PUBLISHED / "Bundle-bundle-transaction.json").read_bytes())
    )
    urls = [e["request"]["url"] for e in doc["entry"]]
    assert "Patient?identifier=<redacted>" in urls  # no system: no pseudonym can be made
    assert "Patient?name=<redacted>" in urls
    assert not [u for u in urls if re.search(r"Patient/(?!pid-|pt-)", u)]
    assert all("ifNoneExist" not in e["request"] for e in doc["entry"][:5])


def test_a_search_on_the_patient_identifier_keeps_only_the_pseudonym() -> None:
    doc = json.loads(
        DEFAULT.prepare_raw((PUBLISHED / "Bundle-bundle-search-warning.json").read_bytes())
    )
    pseudonym = pseudonymise(KEY, "http://example.com/fhir/identifier/mrn", "123456")
    assert doc["link"][0]["url"] == (
        f"https://example.org/fhir/Observation?patient.identifier={PSEUDONYM_SYSTEM}|{pseudonym}"
    )


def test_conditional_patient_reference_gives_the_pseudonym() -> None:
    doc = load(SAMPLES / "r4-single-procedure-subject-identifier.json")
    expected = process(doc).events
    system, value = "https://ehr.bostonapheresis.example/mrn", "MRN-40417733"
    doc["subject"] = {"reference": f"Patient?identifier={system}|{value}"}
    doc["entry"] = None
    del doc["entry"]
    prepared = DEFAULT.prepare_raw(json.dumps(doc).encode())
    assert value not in prepared.decode()
    (event,) = process(prepared).events
    assert event.patient_ref == pseudonymise(KEY, system, value) == expected[0].patient_ref
    assert json.loads(prepared)["subject"] == {
        "reference": f"Patient?identifier={PSEUDONYM_SYSTEM}|{event.patient_ref}"
    }


def test_if_none_exist_and_other_search_parameters() -> None:
    doc = therapy_bundle()
    entry = doc["entry"][2]
    entry["request"] = {
        "method": "POST",
        "url": "Procedure",
        "ifNoneExist": "patient.identifier=urn:mrn|MRN-1234567&code=127788007",
    }
    doc["entry"].append(
        {"request": {"method": "GET", "url": "Observation?subject=Patient/ext-99&_count=5"}}
    )
    prepared = DEFAULT.prepare_raw(json.dumps(doc).encode()).decode()
    assert "MRN-1234567" not in prepared
    assert "ext-99" not in prepared
    assert "code=127788007" in prepared
    assert "_count=5" in prepared


def test_narrative_and_displays_naming_people_are_dropped() -> None:
    prepared = DEFAULT.prepare_raw((PUBLISHED / "Bundle-father.json").read_bytes()).decode()
    assert '"div"' not in prepared
    assert "Peter" not in prepared
    assert "Chalmers" not in prepared


# --- the identity guard judges identity values, not logical ids -----------------------------


@pytest.mark.parametrize(
    ("patient", "procedure"),
    [
        ("Patient-f201.json", "Procedure-f201.json"),
        ("Patient-example.json", "Procedure-example.json"),
    ],
)
def test_a_resource_sharing_the_patients_logical_id_is_fine(patient: str, procedure: str) -> None:
    pat, proc = load(PUBLISHED / patient), load(PUBLISHED / procedure)
    assert pat["id"] == proc["id"]
    proc["performedPeriod"] = {"start": "2013-01-28T13:31:00+01:00"}
    proc.pop("performedDateTime", None)
    proc["code"] = {"coding": [{"system": SNOMED, "code": "367336001"}]}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": pat}, {"resource": copy.deepcopy(proc)}],
    }
    result = process(bundle, MAPPED)
    assert result.rejection is None, result.rejection
    (event,) = result.events
    assert event.identifiers.other["fhir_resource"] == f"Procedure/{proc['id']}"
    assert event.patient_ref is not None
    assert event.patient_ref.startswith("pt-")
    prepared = DEFAULT.prepare_raw(json.dumps(bundle).encode())
    assert not leaked(prepared, identity_values(bundle))
    assert json.loads(prepared)["entry"][1]["resource"]["id"] == proc["id"]


def test_an_identity_value_in_an_event_is_still_refused() -> None:
    pat, proc = load(PUBLISHED / "Patient-f201.json"), load(PUBLISHED / "Procedure-f201.json")
    proc["code"] = {"coding": [{"system": SNOMED, "code": "367336001"}]}
    proc["performer"][0]["actor"] = {"reference": "Practitioner/123456789"}  # the BSN
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": pat}, {"resource": proc}],
    }
    assert process(bundle, MAPPED).rejection.code == "PII_GUARD"
