"""Clean chains (zero findings, per product profile), replay determinism and the catalogue."""

from __future__ import annotations

import pytest

from hub.chain.catalogue import Scope, catalogue
from hub.events.models import EventType
from tests.scenarios.builders import Story, troubled
from tests.scenarios.harness import PROFILES, codes, run, run_cases

DOMAIN = {
    "COI_MISMATCH_RECEIPT": ("C", "manufacturer QA"),
    "COI_MISMATCH_INFUSION": ("C", "treatment site + QP"),
    "DIN_UNLINKED": ("H", "collection site"),
    "INVALID_IDENTIFIER": ("H", "sending partner"),
    "CUSTODY_GAP": ("H", "logistics"),
    "DOUBLE_CUSTODY": ("M", "logistics"),
    "UNVERIFIED_HANDOVER": ("H", "receiving site"),
    "FRESH_STABILITY_BREACH": ("C", "manufacturer + clinic"),
    "TEMP_EXCURSION_FRESH": ("H", "QA"),
    "TEMP_EXCURSION_CRYO": ("C", "QA / QP"),
    "SHIPPER_HOLD_AT_RISK": ("H", "logistics"),
    "LOGGER_DATA_GAP": ("M", "logistics"),
    "ETA_BEYOND_WINDOW": ("H", "logistics + site"),
    "CUSTOMS_HOLD": ("H", "logistics"),
    "SLOT_MISSED": ("H", "manufacturing planning"),
    "QC_OUT_OF_SPEC": ("C", "QA / QP + physician"),
    "RELEASE_EVIDENCE_INCOMPLETE": ("H", "QA / QP"),
    "SHIPPED_BEFORE_RELEASE": ("C", "QP"),
    "LD_BEFORE_AVAILABILITY": ("C", "treating physician"),
    "THAW_WINDOW_EXCEEDED": ("C", "site pharmacy"),
    "V2V_OVER_TARGET": ("M", "programme management"),
    "DUPLICATE_CONFLICT": ("M", "integration ops"),
    "LATE_EVENT": ("L", "partner"),
    "OUT_OF_SEQUENCE": ("M", "integration ops"),
    "TIMEZONE_MISSING": ("M", "partner"),
    "RECORD_CORRECTED": ("M", "QA review"),
    "EXPIRY_APPROACHING": ("H", "site"),
    "PATIENT_STATUS_CHANGE": ("H", "physician + sponsor"),
}
"""DOMAIN.md section 6: code -> (severity letter, owner), verbatim."""
REC24 = {
    "SHIPMENT_DAMAGED": ("C", "QA / QP + logistics"),
    "SHIPMENT_LOST": ("C", "logistics + site"),
    "DELIVERY_NOT_COMPLETED": ("H", "logistics + site"),
}
"""Codes the full UN/ECE Rec 24 classification added (courier damage, loss, failed delivery);
not yet in DOMAIN.md section 6."""
TAXONOMY = DOMAIN | REC24

KEY_MILESTONES = [
    "THERAPY_ORDERED", "SLOT_BOOKED", "COLLECTION_COMPLETED", "CUSTODY_RELEASED",
    "SHIPMENT_DEPARTED", "TEMPERATURE_READING", "MATERIAL_RECEIVED", "MANUFACTURING_STARTED",
    "CRYOPRESERVED", "MANUFACTURING_COMPLETED", "QC_RESULT_RECORDED", "DEVIATION_CLOSED",
    "BATCH_RECORD_REVIEWED", "RELEASE_DECIDED", "PRODUCT_RECEIVED_AT_SITE",
    "LYMPHODEPLETION_STARTED", "PRODUCT_THAWED", "INFUSION_COMPLETED",
]  # fmt: skip


@pytest.mark.req("REQ-EXC-CATALOGUE")
def test_the_catalogue_has_exactly_the_31_codes_of_the_taxonomy() -> None:
    entries = catalogue(Scope.CHAIN)
    assert len(entries) == 31
    assert {e.code for e in entries} == set(TAXONOMY)
    for e in entries:
        assert (e.severity.value[0], e.owner_role) == TAXONOMY[e.code], e.code
        assert e.title, e.code
        assert e.owner_role, e.code
        assert e.evidence, e.code
        assert len(e.playbook) >= 2, e.code


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.req("REQ-FN-DETECTION")
def test_a_clean_chain_raises_no_finding(profile: str) -> None:
    story = Story(profile).clean()
    events = story.stream()
    state, findings = run(events, profile)
    assert findings == []
    assert state.stage == "INFUSED"
    assert state.deadlines == []
    assert state.product_profile == profile
    assert all(m in state.milestones for m in KEY_MILESTONES)
    assert state.milestones["INFUSION_COMPLETED"] == story.t.planned_infusion
    assert state.custody.holder == story.site
    assert state.custody.open_handovers == {}
    business = [e for e in events if e.event_type is not EventType.CLOCK_TICK]
    assert state.event_count == len(business)
    assert state.readiness.certified_at == story.t.certified


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.req("REQ-INV-06")
def test_replaying_a_clean_chain_changes_nothing(profile: str) -> None:
    events = Story(profile).clean().stream()
    state, _ = run(events, profile)
    again, findings = run(events, profile, state)
    assert findings == []
    assert again == state


@pytest.mark.req("REQ-INV-06")
def test_replaying_the_same_stream_gives_identical_findings_and_cases() -> None:
    events = troubled().stream()
    first_state, first = run(events, "cart-fresh-48h")
    second_state, second = run(events, "cart-fresh-48h")
    assert codes(first) >= {"SLOT_MISSED", "RELEASE_EVIDENCE_INCOMPLETE", "THAW_WINDOW_EXCEEDED"}
    assert first == second
    assert first_state.model_dump(mode="json") == second_state.model_dump(mode="json")
    cases_1 = run_cases(events, "cart-fresh-48h")
    cases_2 = run_cases(events, "cart-fresh-48h")
    assert cases_1 == cases_2
    assert len({c.case_id for c in cases_1}) < len(cases_1)  # versions exist


@pytest.mark.req("REQ-INV-06", "REQ-FN-CASES")
def test_a_duplicated_stream_adds_no_case_version() -> None:
    events = troubled().stream()
    cases_once = run_cases(events, "cart-fresh-48h")
    cases_twice = run_cases(events + events, "cart-fresh-48h")
    assert cases_twice == cases_once
