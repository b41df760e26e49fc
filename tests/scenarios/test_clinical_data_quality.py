"""Scenarios: clinic-side and data-quality exceptions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hub.events.models import EventType, ShipmentDetail
from tests.scenarios.builders import Story
from tests.scenarios.harness import codes, only, run

F48, C120 = "cart-fresh-48h", "cart-cryo-120"
H = timedelta(hours=1)
D = timedelta(days=1)


def _at_site(s: Story) -> Story:
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    s.phase_outbound()
    return s


@pytest.mark.req("REQ-EXC-LD_BEFORE_AVAILABILITY")
def test_ld_before_availability_when_not_yet_received_at_site() -> None:
    s = Story(F48)  # this product requires receipt at site before lymphodepletion
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.certified + H, "lymphodepletion")
    _, findings = run(s.stream(until=s.t.certified + 2 * H), F48)
    (finding,) = only(findings, "LD_BEFORE_AVAILABILITY")
    assert finding.summary.endswith("product not received at site")


@pytest.mark.req("REQ-EXC-LD_BEFORE_AVAILABILITY")
def test_ld_after_release_is_enough_for_a_product_that_only_requires_release() -> None:
    s = Story(C120)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.certified + H, "lymphodepletion")
    _, findings = run(s.stream(until=s.t.certified + 2 * H), C120)
    assert findings == []


@pytest.mark.req("REQ-EXC-LD_BEFORE_AVAILABILITY")
def test_ld_before_release() -> None:
    s = Story(C120)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.reviewed + H, "lymphodepletion")
    _, findings = run(s.stream(until=s.t.reviewed + 2 * H), C120)
    (finding,) = only(findings, "LD_BEFORE_AVAILABILITY")
    assert "product not certified" in finding.summary


@pytest.mark.req("REQ-EXC-THAW_WINDOW_EXCEEDED")
def test_thaw_window_exceeded_when_the_infusion_never_comes() -> None:
    s = _at_site(Story(F48))
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    s.clinic(EventType.PRODUCT_THAWED, s.t.thaw, "thaw")
    _, findings = run(s.stream(until=s.t.thaw + 2 * H), F48)
    (finding,) = only(findings, "THAW_WINDOW_EXCEEDED")
    assert finding.occurred_at == s.t.thaw + timedelta(minutes=30)


@pytest.mark.req("REQ-EXC-THAW_WINDOW_EXCEEDED")
def test_thaw_window_exceeded_by_a_late_infusion_with_a_3h_window() -> None:
    s = _at_site(Story(C120))
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    thaw = s.t.planned_infusion - 4 * H
    s.clinic(EventType.PRODUCT_THAWED, thaw, "thaw")
    s.clinic(EventType.INFUSION_COMPLETED, thaw + timedelta(hours=3, minutes=30), "infusion")
    _, findings = run(s.events, C120)
    # judged in event time: the window ends (thaw + 3 h) before the infusion, whose report
    # adds how late it was
    at_deadline, at_infusion = only(findings, "THAW_WINDOW_EXCEEDED")
    assert at_deadline.occurred_at == thaw + 3 * H
    assert "infused 210 min after thaw (window 180 min)" in at_infusion.summary


@pytest.mark.req("REQ-EXC-V2V_OVER_TARGET")
def test_v2v_over_target() -> None:
    s = _at_site(Story(F48))
    due = s.t.collection_end + timedelta(days=28)
    _, findings = run(s.stream(until=due + H), F48)
    (finding,) = only(findings, "V2V_OVER_TARGET")
    assert finding.occurred_at == due


@pytest.mark.req("REQ-EXC-EXPIRY_APPROACHING")
def test_expiry_approaching_before_infusion() -> None:
    s = Story(C120)
    s.t = replace(s.t, expires=s.t.outbound_arrive + 5 * D)
    _at_site(s)
    due = s.t.expires - 72 * H
    _, findings = run(s.stream(until=due + H), C120)
    (finding,) = only(findings, "EXPIRY_APPROACHING")
    assert finding.occurred_at == due


@pytest.mark.req("REQ-EXC-PATIENT_STATUS_CHANGE")
def test_patient_status_change_mid_manufacturing() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.patient_status(s.t.mfg_start + 3 * D, "Withdrawn")
    s.patient_status(s.t.mfg_start + 4 * D, "active")  # not an exception
    _, findings = run(s.stream(until=s.t.reviewed + H), F48)
    (finding,) = only(findings, "PATIENT_STATUS_CHANGE")
    assert finding.subject == "withdrawn"
    assert "stage MANUFACTURING" in finding.summary


@pytest.mark.req("REQ-EXC-PATIENT_STATUS_CHANGE")
def test_a_revoked_order_is_a_patient_status_change() -> None:
    s = Story(F48)
    s.phase_order()
    s.patient_status(s.t.ordered + 12 * H, "ORDER_REVOKED")  # what the FHIR connector writes
    _, findings = run(s.stream(until=s.t.ordered + D), F48)
    (finding,) = only(findings, "PATIENT_STATUS_CHANGE")
    assert finding.subject == "order_revoked"


@pytest.mark.req("REQ-EXC-DUPLICATE_CONFLICT", "REQ-INV-06")
def test_duplicate_conflict_and_an_exact_resend_is_absorbed() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    original = next(e for e in s.events if e.event_type is EventType.QC_RESULT_RECORDED)
    detail = original.detail
    s.emit(
        original.event_type,
        original.occurred_at,
        detail,
        partner="lims",
        batch_id=s.batch_id,
        sample_id=original.identifiers.sample_id,
    )  # fmt: skip  (same content, new message id: a resend)
    changed = detail.model_copy(update={"result_value": 99.0})  # type: ignore[union-attr]
    conflict = s.emit(
        original.event_type, original.occurred_at, changed, partner="lims",
        batch_id=s.batch_id, sample_id=original.identifiers.sample_id,
    )  # fmt: skip
    state, findings = run(s.stream(until=s.t.reviewed + H), F48)
    (finding,) = only(findings, "DUPLICATE_CONFLICT")
    assert finding.evidence_event_ids == [original.event_id, conflict.event_id]
    assert state.event_count == len(s.events)


@pytest.mark.req("REQ-EXC-LATE_EVENT")
def test_late_event_beyond_the_partner_sla() -> None:
    s = Story(F48)
    s.phase_order()
    at = s.t.slot_booked + H
    status = ShipmentDetail(status="BOOKED", carrier="World Courier")
    s.emit(
        EventType.SHIPMENT_STATUS, at, status, partner="courier", recorded_at=at + 5 * H,
        shipment_id=s.ship_in,
    )  # fmt: skip
    s.reading(s.ship_in, s.logger_in, at, 5.0)
    late_reading = s.events[-1].model_copy(update={"recorded_at": at + 5 * H})
    s.events[-1] = late_reading  # loggers have their own, longer SLA (12 h)
    _, findings = run(s.stream(until=at + 6 * H), F48)
    (finding,) = only(findings, "LATE_EVENT")
    assert finding.subject == "courier"
    assert "recorded 5.0 h after" in finding.summary


@pytest.mark.req("REQ-EXC-OUT_OF_SEQUENCE")
def test_out_of_sequence_infusion_without_thaw() -> None:
    s = _at_site(Story(F48))
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    s.clinic(EventType.INFUSION_COMPLETED, s.t.planned_infusion, "infusion")
    _, findings = run(s.stream(), F48)
    (finding,) = only(findings, "OUT_OF_SEQUENCE")
    assert finding.subject == "INFUSION_COMPLETED"
    assert "PRODUCT_THAWED not reported" in finding.summary


@pytest.mark.req("REQ-EXC-OUT_OF_SEQUENCE")
def test_out_of_sequence_manufacturing_before_receipt() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    s.mfg(EventType.MANUFACTURING_STARTED, s.t.collection_end + 10 * H, "activation")
    _, findings = run(s.stream(until=s.t.collection_end + 11 * H), F48)
    (finding,) = only(findings, "OUT_OF_SEQUENCE")
    assert finding.subject == "MANUFACTURING_STARTED"


@pytest.mark.req("REQ-EXC-TIMEZONE_MISSING")
def test_timezone_missing_marked_by_the_connector() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect(timezone_missing="collection_end")
    _, findings = run(s.stream(until=s.t.collection_end + H), F48)
    (finding,) = only(findings, "TIMEZONE_MISSING")
    assert finding.subject == "clinic:collection_end"


@pytest.mark.req("REQ-EXC-RECORD_CORRECTED")
def test_record_corrected_and_the_corrective_event_is_no_conflict() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    original = next(e for e in s.events if e.event_type is EventType.QC_RESULT_RECORDED)
    at = s.t.reviewed + H
    s.correction(at, [original.event_id], "transcription error")
    fixed = original.detail.model_copy(update={"result_value": 30.0})  # type: ignore[union-attr]
    s.emit(
        original.event_type, original.occurred_at, fixed, partner="lims", recorded_at=at + H,
        batch_id=s.batch_id, sample_id=original.identifiers.sample_id,
    )  # fmt: skip
    events = s.stream(until=at + 2 * H)
    _, findings = run(events, F48)
    assert "DUPLICATE_CONFLICT" not in codes(findings)
    late = [f for f in findings if f.code == "LATE_EVENT"]  # a re-sent old result is late
    (finding,) = only([f for f in findings if f not in late], "RECORD_CORRECTED")
    assert finding.subject == original.event_id
    assert "transcription error" in finding.summary
