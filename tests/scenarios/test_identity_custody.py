"""Scenarios: Chain of Identity and Chain of Custody exceptions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.chain.catalogue import lookup
from hub.chain.findings import Severity
from hub.events.identifiers import mod37_2
from hub.events.models import EventType
from tests.scenarios.builders import Story
from tests.scenarios.harness import only, run
from tests.scenarios.timeline import din_core, din_for

F48 = "cart-fresh-48h"
H = timedelta(hours=1)


@pytest.mark.req("REQ-EXC-COI_MISMATCH_RECEIPT")
def test_coi_mismatch_receipt_from_the_receipt_scan() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    foreign = din_for(77)
    s.identity(
        "manufacturing_receipt",
        s.t.inbound_arrive + timedelta(minutes=20),
        expected={"coi": s.coi, "din": s.din},
        scanned={"coi": s.coi, "din": foreign},
        matched=False,
    )
    state, findings = run(s.stream(until=s.t.inbound_arrive + 2 * H), F48)
    (finding,) = only(findings, "COI_MISMATCH_RECEIPT")
    assert finding.subject == "manufacturing_receipt"
    assert foreign in finding.summary
    assert state.readiness.identity_checks["manufacturing_receipt"] is False
    assert lookup("COI_MISMATCH_RECEIPT").severity is Severity.CRITICAL


@pytest.mark.req("REQ-EXC-COI_MISMATCH_RECEIPT")
def test_coi_mismatch_receipt_from_a_receipt_with_a_foreign_din() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.material_received(s.t.inbound_arrive + timedelta(minutes=30), din=din_for(78))
    # well past the DIN link grace (12 h): the foreign DIN is a mismatch, not an unlinked DIN
    _, findings = run(s.stream(until=s.t.inbound_arrive + 14 * H), F48)
    (finding,) = only(findings, "COI_MISMATCH_RECEIPT")
    assert finding.subject == "material_received"
    assert din_for(78) in finding.summary


@pytest.mark.req("REQ-EXC-COI_MISMATCH_INFUSION")
def test_coi_mismatch_infusion_from_the_bedside_scan() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    s.phase_outbound()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    s.clinic(EventType.PRODUCT_THAWED, s.t.thaw, "thaw")
    s.identity(
        "bedside",
        s.t.thaw + timedelta(minutes=2),
        expected={"coi": s.coi, "batch": s.batch_id},
        scanned={"coi": s.coi, "batch": "B7777777"},
        matched=False,
    )
    _, findings = run(s.stream(until=s.t.thaw + timedelta(minutes=10)), F48)
    (finding,) = only(findings, "COI_MISMATCH_INFUSION")
    assert finding.subject == "bedside"
    assert "B7777777" in finding.summary


@pytest.mark.req("REQ-EXC-COI_MISMATCH_INFUSION")
def test_coi_mismatch_infusion_from_an_infusion_of_another_batch() -> None:
    s = Story(F48)
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    s.phase_outbound()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    s.clinic(EventType.PRODUCT_THAWED, s.t.thaw, "thaw")
    s.clinic(EventType.INFUSION_COMPLETED, s.t.planned_infusion, "infusion", batch_id="B0000042")
    _, findings = run(s.stream(), F48)
    (finding,) = only(findings, "COI_MISMATCH_INFUSION")
    assert "batch B0000042" in finding.summary


@pytest.mark.req("REQ-EXC-DIN_UNLINKED")
def test_din_unlinked_when_no_collection_links_the_din() -> None:
    s = Story(F48)
    s.phase_order()
    seen = s.t.slot_booked + 2 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_in, seen, "PICKED_UP")
    _, findings = run(s.stream(until=seen + 13 * H), F48)
    (finding,) = only(findings, "DIN_UNLINKED")
    assert finding.subject == s.din
    assert finding.occurred_at == seen + 12 * H  # the profile's din_link_grace_h


@pytest.mark.req("REQ-EXC-DIN_UNLINKED")
def test_a_link_in_time_prevents_din_unlinked() -> None:
    s = Story(F48)
    s.phase_order()
    seen = s.t.slot_booked + 2 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_in, seen, "PICKED_UP")
    s.link(seen + 3 * H, "DIN", s.din)
    _, findings = run(s.stream(until=seen + 13 * H), F48)
    assert findings == []


@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_invalid_identifier_for_a_malformed_din() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect(din="=A9999171234")
    _, findings = run(s.stream(until=s.t.collection_end + H), F48)
    (finding,) = only(findings, "INVALID_IDENTIFIER")
    assert finding.subject == "din:=A9999171234"


@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_invalid_identifier_for_a_wrong_check_character() -> None:
    s = Story(F48)
    s.phase_order()
    wrong = next(c for c in "0123456789" if c != mod37_2(din_core(1)))
    s.collect(din=s.din, din_check=wrong)
    _, findings = run(s.stream(until=s.t.collection_end + H), F48)
    (finding,) = only(findings, "INVALID_IDENTIFIER")
    assert "Mod 37-2" in finding.summary


@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_invalid_identifier_for_a_coi_with_a_bad_check_when_the_profile_validates() -> None:
    s = Story(F48)
    good = s.coi
    s.coi = good[:-1] + ("0" if good[-1] != "0" else "1")
    s.order()
    _, findings = run(s.events, F48)
    (finding,) = only(findings, "INVALID_IDENTIFIER")
    assert finding.subject == f"coi:{s.coi}"
    # the default profile leaves COI validation to the connectors
    assert run(s.events, "default")[1] == []


@pytest.mark.req("REQ-EXC-CUSTODY_GAP")
def test_custody_gap_when_a_release_is_never_accepted() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    s.release(s.ship_in, s.t.inbound_depart, s.aph, s.cdmo, s.lane_in)
    due = s.t.inbound_depart + 8 * H + 2 * H  # lane turnaround + custody grace
    state, findings = run(s.stream(until=due + H), F48)
    (finding,) = only(findings, "CUSTODY_GAP")
    assert finding.subject == s.ship_in
    assert finding.occurred_at == due
    assert state.custody.holder is None
    assert s.ship_in in state.custody.open_handovers


@pytest.mark.req("REQ-EXC-DOUBLE_CUSTODY")
def test_double_custody_when_accepted_without_a_release() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    s.accept(s.ship_in, s.t.inbound_depart, s.aph, s.cdmo)
    # no release dated before the acceptance arrives within the custody grace (2 h)
    state, findings = run(s.stream(until=s.t.inbound_depart + 3 * H), F48)
    (finding,) = only(findings, "DOUBLE_CUSTODY")
    assert finding.occurred_at == s.t.inbound_depart + 2 * H
    assert s.aph in finding.summary
    assert len(finding.evidence_event_ids) == 2
    assert state.custody.holder == s.cdmo


@pytest.mark.req("REQ-EXC-UNVERIFIED_HANDOVER")
def test_unverified_handover_when_accepted_without_verifier_or_scan() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    s.release(s.ship_in, s.t.inbound_depart, s.aph, s.cdmo, s.lane_in)
    s.accept(s.ship_in, s.t.inbound_arrive, s.aph, s.cdmo, verified_by=None, identity_scanned=False)
    state, findings = run(s.stream(until=s.t.inbound_arrive + H), F48)
    (finding,) = only(findings, "UNVERIFIED_HANDOVER")
    assert "without verifier and identity scan" in finding.summary
    assert state.readiness.unverified_handovers == [s.ship_in]


@pytest.mark.req("REQ-EXC-CUSTODY_GAP", "REQ-INV-04")
def test_a_release_reported_after_its_acceptance_opens_no_gap() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    s.release(s.ship_in, s.t.inbound_depart, s.aph, s.cdmo, s.lane_in)
    accept = s.accept(s.ship_in, s.t.inbound_arrive, s.aph, s.cdmo)
    events = s.stream(until=s.t.inbound_arrive + 4 * H)
    release = next(e for e in events if e.event_type is EventType.CUSTODY_RELEASED)
    events.remove(release)
    events.insert(events.index(accept) + 2, release)  # the courier reports an hour late
    assert events[events.index(accept) + 1].event_type is EventType.CLOCK_TICK
    _, findings = run(events, F48)
    assert findings == []
