"""Scenarios: temperature, logger and shipment exceptions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hub.events.models import EventType
from tests.scenarios.builders import Story
from tests.scenarios.harness import only, run

F48, C120 = "cart-fresh-48h", "cart-cryo-120"
H = timedelta(hours=1)
M15 = timedelta(minutes=15)


def _inbound_without_readings(s: Story) -> None:
    s.phase_order()
    s.phase_inbound(readings=False)


def _released(s: Story) -> Story:
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    return s


def _outbound_departed(s: Story, eta_hours: float | None = None) -> None:
    t = s.t
    s.release(s.ship_out, t.planned_ship, s.cdmo, s.site, s.lane_out)
    eta = t.outbound_arrive if eta_hours is None else t.planned_ship + eta_hours * H
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_out, t.planned_ship, "DEPARTED",
        eta=eta, lane=s.lane_out, logger_id=s.logger_out,
    )  # fmt: skip


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_temp_excursion_fresh_beyond_tolerance() -> None:
    s = Story(F48)
    _inbound_without_readings(s)
    d = s.t.inbound_depart
    s.readings(s.ship_in, s.logger_in, d, d + H, 5.0)
    s.readings(s.ship_in, s.logger_in, d + H + M15, d + 2 * H + M15, 10.5)  # 60 min out
    s.readings(s.ship_in, s.logger_in, d + 2 * H + 2 * M15, s.t.inbound_arrive, 5.0)
    state, findings = run(s.stream(until=s.t.inbound_arrive + H), F48)
    (finding,) = only(findings, "TEMP_EXCURSION_FRESH")
    assert finding.subject == f"{s.ship_in}@{(d + H + M15).isoformat()}"
    assert finding.occurred_at == d + 2 * H  # 45 min out > 30 min tolerance
    assert "worst 10.5 C" in finding.summary
    assert state.temperatures.excursions == {}  # closed by the in-range readings


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_a_spike_inside_the_tolerance_is_no_excursion() -> None:
    s = Story(F48)
    _inbound_without_readings(s)
    d = s.t.inbound_depart
    s.readings(s.ship_in, s.logger_in, d, d + H, 5.0)
    s.readings(s.ship_in, s.logger_in, d + H + M15, d + H + 3 * M15, 9.5)  # 30 min, tolerated
    s.readings(s.ship_in, s.logger_in, d + 2 * H, s.t.inbound_arrive, 5.0)
    _, findings = run(s.stream(until=s.t.inbound_arrive + H), F48)
    assert findings == []


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_CRYO")
def test_temp_excursion_cryo_above_the_label_limit() -> None:
    s = _released(Story(F48))
    _outbound_departed(s)
    p = s.t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + 4 * H, -190.0)
    s.reading(s.ship_out, s.logger_out, p + 2 * H + timedelta(minutes=7), -140.0)
    _, findings = run(s.stream(until=p + 4 * H), F48)
    (finding,) = only(findings, "TEMP_EXCURSION_CRYO")
    assert "<= -150 C" in finding.summary
    assert "worst -140.0 C" in finding.summary


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_CRYO")
def test_the_same_reading_is_within_a_minus_120_label() -> None:
    s = _released(Story(C120))
    _outbound_departed(s)
    p = s.t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + 4 * H, -190.0)
    s.reading(s.ship_out, s.logger_out, p + 2 * H + timedelta(minutes=7), -140.0)
    _, findings = run(s.stream(until=p + 4 * H), C120)
    assert findings == []


@pytest.mark.req("REQ-EXC-LOGGER_DATA_GAP")
def test_logger_data_gap_while_in_transit() -> None:
    s = Story(F48)
    _inbound_without_readings(s)
    d = s.t.inbound_depart
    s.readings(s.ship_in, s.logger_in, d, d + 2 * H, 5.0)
    s.readings(s.ship_in, s.logger_in, d + 4 * H, s.t.inbound_arrive, 5.0)  # 2 h silent
    state, findings = run(s.stream(until=s.t.inbound_arrive + H), F48)
    # The logger feed may lag 12 h (its lateness): before silence alone counts, the reading
    # that ends it (at d + 4 h) shows the gap.
    (finding,) = only(findings, "LOGGER_DATA_GAP")
    assert finding.subject == f"{s.ship_in}@{(d + 2 * H).isoformat()}"
    assert finding.occurred_at == d + 4 * H
    assert state.temperatures.gaps == [finding.subject]


@pytest.mark.req("REQ-EXC-ETA_BEYOND_WINDOW")
def test_eta_beyond_window_warns_before_the_slot_is_missed() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    d = s.t.inbound_depart
    s.release(s.ship_in, d, s.aph, s.cdmo, s.lane_in)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_in, d, "DEPARTED",
        eta=s.t.inbound_arrive, lane=s.lane_in, logger_id=s.logger_in,
    )  # fmt: skip
    s.readings(s.ship_in, s.logger_in, d, d + 2 * H, 5.0)
    late = s.t.slot_start + timedelta(minutes=30)
    s.shipment(EventType.SHIPMENT_ETA_UPDATED, s.ship_in, d + 2 * H, "ETA_UPDATED", eta=late)
    _, findings = run(s.stream(until=d + 2 * H + timedelta(minutes=10)), F48)
    (finding,) = only(findings, "ETA_BEYOND_WINDOW")
    assert finding.occurred_at < s.t.slot_start  # predictive
    assert "manufacturing slot start" in finding.summary
    assert "fresh stability end" not in finding.summary


@pytest.mark.req("REQ-EXC-SHIPPER_HOLD_AT_RISK")
def test_shipper_hold_at_risk_from_elapsed_plus_remaining() -> None:
    s = Story(F48)
    s.t = replace(s.t, planned_infusion=s.t.planned_ship + timedelta(days=20))
    _released(s)
    _outbound_departed(s)
    p = s.t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + 3 * H, -190.0)
    eta = p + timedelta(days=7)  # 168 h > 240 h x 0.6
    s.shipment(EventType.SHIPMENT_ETA_UPDATED, s.ship_out, p + 3 * H, "ETA_UPDATED", eta=eta)
    _, findings = run(s.stream(until=p + 3 * H + timedelta(minutes=10)), F48)
    (finding,) = only(findings, "SHIPPER_HOLD_AT_RISK")
    assert "168.0 h in the shipper > 144.0 h usable" in finding.summary


@pytest.mark.req("REQ-EXC-CUSTOMS_HOLD")
def test_customs_hold_from_a_delay_with_hold_status() -> None:
    s = _released(Story(C120))
    _outbound_departed(s)
    p = s.t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + 5 * H, -180.0)
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, p + 5 * H, "CUSTOMS_HOLD", code="20")
    _, findings = run(s.stream(until=p + 5 * H + timedelta(minutes=10)), C120)
    (finding,) = only(findings, "CUSTOMS_HOLD")
    assert finding.subject == s.ship_out
    assert "held by customs" in finding.summary


@pytest.mark.req("REQ-EXC-CUSTOMS_HOLD")
def test_customs_hold_from_rec24_code_17() -> None:
    s = _released(Story(C120))
    _outbound_departed(s)
    p = s.t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + 5 * H, -180.0)
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, p + 5 * H, "CUSTOMS_REFUSED", code="17")
    _, findings = run(s.stream(until=p + 5 * H + timedelta(minutes=10)), C120)
    (finding,) = only(findings, "CUSTOMS_HOLD")
    assert "refused clearance" in finding.summary
    assert "Rec 24 code 17" in finding.summary
