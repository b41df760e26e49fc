"""The stand-ins for missing hub capabilities act only where the connector shows the gap."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import Rejection, Result
from connectors.registry import get_connector
from hub.events.models import (
    Event,
    EventType,
    MaterialDetail,
    PatientStatusDetail,
    Source,
)
from hub.sim.bridge import Repair, deliver
from hub.sim.journey import DRUG_PRODUCT
from hub.sim.offline import Outcome
from hub.sim.scenario import Scenario

T = datetime(2025, 2, 3, 12, 0, tzinfo=UTC)
EPCIS = get_connector("epcis")


def _event(kind: EventType, detail: object) -> Event:
    return Event.model_validate(
        {
            "event_id": "e1", "event_type": kind, "occurred_at": T, "recorded_at": T,
            "source": Source(partner="epcis", system="epcis", message_id="m", received_at=T),
            "coi_id": "V2VSIM0070000019", "detail": detail,
        }
    )  # fmt: skip


def test_connector_results_pass_through_untouched() -> None:
    received = _event(EventType.MATERIAL_RECEIVED, MaterialDetail(material_type=DRUG_PRODUCT))
    revoked = _event(EventType.PATIENT_STATUS_CHANGED, PatientStatusDetail(status="ORDER_REVOKED"))
    delivery = deliver(EPCIS, Result(events=(received, revoked)), T, "application/json", None)
    assert delivery.raw
    assert delivery.direct == ()
    assert delivery.bridge is None


def test_only_repairable_rejections_with_a_repair_are_repaired() -> None:
    courier = get_connector("courier")
    rejected = Result(rejection=Rejection("NOT_JSON", "cut off", "courier"))
    assert deliver(courier, rejected, T, "application/json", Repair(b"{}")).direct == ()
    bad_din = Result(rejection=Rejection("INVALID_IDENTIFIER", "bad DIN", "courier"))
    assert deliver(courier, bad_din, T, "application/json", Repair(b"{}")).direct == ()
    naive = Result(rejection=Rejection("TIMEZONE_MISSING", "no offset", "courier"))
    assert deliver(courier, naive, T, "application/json", None).direct == ()


def test_the_full_network_uses_only_the_timezone_stand_in(full: tuple[Scenario, Outcome]) -> None:
    _scenario, outcome = full
    assert outcome.bridged == {"repair:TIMEZONE_MISSING": 1}
    repaired = [p for p in outcome.plans.values() if p.bridge and p.bridge.startswith("repair")]
    assert all(p.raw and p.dead == 1 and p.direct for p in repaired)
    marks = {k for p in repaired for e in p.direct for k in e.identifiers.other}
    assert marks == {"timezone_missing"}
