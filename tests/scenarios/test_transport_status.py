"""Scenarios: what the courier says happened to the material (UN/ECE Rec 24 damage, loss,
refusal and delivery-not-completed classes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.chain.catalogue import Timing, lookup
from hub.chain.findings import Severity
from hub.events.models import EventType
from tests.scenarios.builders import Story
from tests.scenarios.harness import only, run

C120 = "cart-cryo-120"
H = timedelta(hours=1)
M10 = timedelta(minutes=10)


def _in_transit(s: Story, hours: float = 5) -> None:
    """Released product departed towards the site, cold readings for ``hours``."""
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    t = s.t
    s.release(s.ship_out, t.planned_ship, s.cdmo, s.site, s.lane_out)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_out, t.planned_ship, "DEPARTED",
        eta=t.outbound_arrive, lane=s.lane_out, logger_id=s.logger_out,
    )  # fmt: skip
    p = t.planned_ship
    s.readings(s.ship_out, s.logger_out, p, p + hours * H, s.profile.cryo.max_c - 40)


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("SHIPMENT_DAMAGED", Severity.CRITICAL),
        ("SHIPMENT_LOST", Severity.CRITICAL),
        ("DELIVERY_NOT_COMPLETED", Severity.HIGH),
    ],
)
@pytest.mark.req(
    "REQ-EXC-SHIPMENT_DAMAGED", "REQ-EXC-SHIPMENT_LOST", "REQ-EXC-DELIVERY_NOT_COMPLETED"
)
def test_the_new_codes_alarm_at_once(code: str, severity: Severity) -> None:
    item = lookup(code)
    assert (item.severity, item.timing) == (severity, Timing.AT_ONCE)


@pytest.mark.req("REQ-EXC-SHIPMENT_DAMAGED")
def test_shipment_damaged_from_rec24_code_18() -> None:
    s = Story(C120)
    _in_transit(s)
    at = s.t.planned_ship + 5 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, at, "DAMAGED", code="18")
    _, findings = run(s.stream(until=at + M10), C120)
    (finding,) = only(findings, "SHIPMENT_DAMAGED")
    assert finding.subject == s.ship_out
    assert finding.occurred_at == at
    assert "reported damaged" in finding.summary
    assert "Rec 24 code 18" in finding.summary


@pytest.mark.req("REQ-EXC-SHIPMENT_LOST")
def test_shipment_lost_from_rec24_code_49() -> None:
    s = Story(C120)
    _in_transit(s)
    at = s.t.planned_ship + 5 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, at, "LOST", code="49")
    _, findings = run(s.stream(until=at + M10), C120)
    (finding,) = only(findings, "SHIPMENT_LOST")
    assert finding.subject == s.ship_out
    assert "reported lost" in finding.summary
    assert "Rec 24 code 49" in finding.summary


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        ("DELIVERY_NOT_COMPLETED", "23", "delivery not completed"),
        ("REFUSED", "77", "delivery refused"),
    ],
)
@pytest.mark.req("REQ-EXC-DELIVERY_NOT_COMPLETED")
def test_delivery_not_completed_from_rec24_codes_23_and_77(
    status: str, code: str, words: str
) -> None:
    s = Story(C120)
    _in_transit(s)
    at = s.t.planned_ship + 5 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, at, status, code=code)
    _, findings = run(s.stream(until=at + M10), C120)
    (finding,) = only(findings, "DELIVERY_NOT_COMPLETED")
    assert finding.subject == s.ship_out
    assert words in finding.summary
    assert f"Rec 24 code {code}" in finding.summary


@pytest.mark.parametrize(("status", "code"), [("IN_TRANSIT", "31"), ("ARRIVED", "1")])
@pytest.mark.req("REQ-FN-DETECTION")
def test_progress_and_arrival_statuses_raise_nothing(status: str, code: str) -> None:
    s = Story(C120)
    _in_transit(s)
    at = s.t.planned_ship + 5 * H
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, at, status, code=code)
    _, findings = run(s.stream(until=at + M10), C120)
    assert findings == []


@pytest.mark.req("REQ-EXC-SHIPMENT_LOST", "REQ-INV-04")
def test_a_clean_chain_with_a_late_loss_report_after_delivery_raises_nothing() -> None:
    """A loss dated after the recorded delivery contradicts it (e.g. the empty dry shipper's
    return leg reported under the same shipment id): no case."""
    s = Story(C120).clean()
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, s.t.outbound_arrive + H, "LOST", code="49")
    _, findings = run(s.stream(), C120)
    assert findings == []


@pytest.mark.req("REQ-EXC-SHIPMENT_DAMAGED")
def test_damage_found_at_receipt_after_delivery_is_still_raised() -> None:
    s = Story(C120).clean()
    at = s.t.outbound_arrive + 20 * timedelta(minutes=1)
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_out, at, "DAMAGED", code="97")
    _, findings = run(s.stream(), C120)
    (finding,) = only(findings, "SHIPMENT_DAMAGED")
    assert "Rec 24 code 97" in finding.summary
