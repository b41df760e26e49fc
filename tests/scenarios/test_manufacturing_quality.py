"""Scenarios: manufacturing timing, QC and release exceptions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hub.chain.findings import Severity
from hub.events.models import EventType, QcResultDetail
from tests.scenarios.builders import Story
from tests.scenarios.harness import only, run, run_cases

F48, C120 = "cart-fresh-48h", "cart-cryo-120"
H = timedelta(hours=1)


@pytest.mark.req("REQ-EXC-FRESH_STABILITY_BREACH")
def test_fresh_stability_breach_fires_on_the_clock() -> None:
    s = Story(F48)
    s.t = replace(s.t, slot_start=s.t.collection_end + 60 * H)  # slot after the 48 h limit
    s.phase_order()
    s.phase_inbound()
    _, findings = run(s.stream(until=s.t.collection_end + 49 * H), F48)
    (finding,) = only(findings, "FRESH_STABILITY_BREACH")
    assert finding.occurred_at == s.t.collection_end + 48 * H


@pytest.mark.req("REQ-EXC-FRESH_STABILITY_BREACH", "REQ-INV-04")
def test_fresh_stability_breach_on_a_late_start_without_ticks() -> None:
    s = Story(C120)
    s.phase_order()
    s.phase_inbound()
    s.mfg(EventType.MANUFACTURING_STARTED, s.t.collection_end + 75 * H, "activation")
    _, findings = run(s.events, C120)
    # judged in event time: the stability window ends before the late start, which adds how
    # late it was
    at_deadline, finding = only(findings, "FRESH_STABILITY_BREACH")
    assert at_deadline.occurred_at == s.t.collection_end + 72 * H
    assert "75.0 h after collection end" in finding.summary
    assert "stability 72 h" in finding.summary


@pytest.mark.req("REQ-EXC-SLOT_MISSED")
def test_slot_missed_when_material_is_not_received_by_slot_start() -> None:
    s = Story(F48)
    d = s.t.inbound_depart
    s.t = replace(s.t, slot_start=d + 5 * H)
    s.phase_order()
    s.collect()
    s.release(s.ship_in, d, s.aph, s.cdmo, s.lane_in)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_in, d, "DEPARTED", lane=s.lane_in,
        logger_id=s.logger_in,
    )  # fmt: skip
    s.readings(s.ship_in, s.logger_in, d, s.t.inbound_arrive, 5.0)
    s.shipment(EventType.SHIPMENT_DELIVERED, s.ship_in, s.t.inbound_arrive, "DELIVERED")
    s.accept(s.ship_in, s.t.inbound_arrive, s.aph, s.cdmo)
    s.material_received(s.t.inbound_arrive + timedelta(minutes=15))
    _, findings = run(s.stream(until=s.t.inbound_arrive + H), F48)
    first, late_receipt = only(findings, "SLOT_MISSED")
    assert first.occurred_at == d + 5 * H  # fired by the tick at slot start
    assert late_receipt.subject == first.subject == "SLOT-1"


@pytest.mark.req("REQ-EXC-QC_OUT_OF_SPEC")
def test_qc_out_of_spec_against_the_profile_specification() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing(qc=False)
    for i, test in enumerate(sorted(s.profile.qc_tests)):
        if test == "VIABILITY":
            s.qc(test, s.t.qc_start + i * H, value=61.0)
        else:
            s.qc_in_spec(test, s.t.qc_start + i * H)
    _, findings = run(s.stream(until=s.t.reviewed + H), F48)
    (finding,) = only(findings, "QC_OUT_OF_SPEC")
    assert finding.subject == "VIABILITY"
    assert "61 % outside specification 80.." in finding.summary


@pytest.mark.req("REQ-EXC-QC_OUT_OF_SPEC")
def test_qc_out_of_spec_from_the_lims_flag_or_limits_for_an_unprofiled_test() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    at = s.t.reviewed + H
    flagged = QcResultDetail(
        test_code="RCL", result_text="detected", status="FINAL", out_of_spec=True
    )
    s.emit(EventType.QC_RESULT_RECORDED, at, flagged, partner="lims", batch_id=s.batch_id)
    limits = QcResultDetail(test_code="IL6", result_value=900, spec_high=500, status="FINAL")
    s.emit(EventType.QC_RESULT_RECORDED, at + H, limits, partner="lims", batch_id=s.batch_id)
    _, findings = run(s.stream(until=at + 2 * H), F48)
    assert [f.subject for f in only(findings, "QC_OUT_OF_SPEC")] == ["RCL", "IL6"]


@pytest.mark.req("REQ-EXC-RELEASE_EVIDENCE_INCOMPLETE")
def test_release_evidence_incomplete_at_planned_ship_minus_margin() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing(review=False)
    due = s.t.planned_ship - 24 * H
    _, findings = run(s.stream(until=due + H), F48)
    (finding,) = only(findings, "RELEASE_EVIDENCE_INCOMPLETE")
    assert finding.subject == "planned-ship"
    assert finding.occurred_at == due
    assert finding.summary.endswith("batch record not reviewed")
    assert finding.severity is None  # the catalogue's HIGH


@pytest.mark.req("REQ-EXC-RELEASE_EVIDENCE_INCOMPLETE")
def test_certification_without_release_evidence_is_a_critical_case() -> None:
    s = Story(C120)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing(qc=False)
    for i, test in enumerate(["ENDOTOXIN", "STERILITY", "VIABILITY"]):
        s.qc_in_spec(test, s.t.qc_start + i * H)
    s.deviation(EventType.DEVIATION_OPENED, "DEV-9", s.t.reviewed)
    s.phase_release()
    _, findings = run(s.stream(until=s.t.certified + H), C120)
    (finding,) = only(findings, "RELEASE_EVIDENCE_INCOMPLETE")
    assert finding.subject == "certification"
    assert finding.severity is Severity.CRITICAL
    for item in ("QC CAR_PCT: no result", "QC MYCOPLASMA: no result", "deviation DEV-9 open"):
        assert item in finding.summary
    assert "ID_FLOW" not in finding.summary  # not required by the profile
    (case,) = run_cases(s.stream(until=s.t.certified + H), C120)
    assert case.severity is Severity.CRITICAL


@pytest.mark.req("REQ-EXC-SHIPPED_BEFORE_RELEASE")
def test_shipped_before_release() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.release(s.ship_out, s.t.planned_ship, s.cdmo, s.site, s.lane_out)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_out, s.t.planned_ship, "DEPARTED",
        eta=s.t.outbound_arrive, lane=s.lane_out, logger_id=s.logger_out,
    )  # fmt: skip
    _, findings = run(s.stream(until=s.t.planned_ship + timedelta(minutes=30)), F48)
    (finding,) = only(findings, "SHIPPED_BEFORE_RELEASE")
    assert finding.subject == s.ship_out
    assert "no certification" in finding.summary


@pytest.mark.req("REQ-EXC-SHIPPED_BEFORE_RELEASE")
def test_a_rejected_product_that_ships_is_shipped_before_release() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.decision(EventType.RELEASE_DECIDED, s.t.certified, "REJECTED")
    s.shipment(EventType.SHIPMENT_DEPARTED, s.ship_out, s.t.planned_ship, "DEPARTED")
    state, findings = run(s.stream(until=s.t.planned_ship + timedelta(minutes=30)), F48)
    only(findings, "SHIPPED_BEFORE_RELEASE")
    assert state.readiness.rejected_at == s.t.certified
    assert "RELEASE_DECIDED" not in state.milestones
