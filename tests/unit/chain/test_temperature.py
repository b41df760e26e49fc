"""Temperature rules: tolerance durations, interval reports, units, ordering."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hub.chain.findings import Finding
from hub.chain.rules.quality import missing_evidence
from hub.chain.state import ChainState
from hub.events.models import EventType, TemperatureDetail
from tests.scenarios.builders import Story
from tests.scenarios.harness import PROFILES, codes, run, tick

F48, C120 = "cart-fresh-48h", "cart-cryo-120"
M = timedelta(minutes=1)


def _in_transit(profile: str) -> Story:
    s = Story(profile)
    s.phase_order()
    s.collect()
    d = s.t.inbound_depart
    s.release(s.ship_in, d, s.aph, s.cdmo, s.lane_in)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_in, d, "DEPARTED",
        eta=s.t.inbound_arrive, lane=s.lane_in, logger_id=s.logger_in,
    )  # fmt: skip
    return s


def _readings(values: list[float], every_min: int = 15) -> tuple[ChainState, list[Finding]]:
    s = _in_transit(F48)
    d = s.t.inbound_depart
    for i, value in enumerate(values):
        s.reading(s.ship_in, s.logger_in, d + i * every_min * M, value)
    return run(s.events, F48)


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_out_of_range_for_exactly_the_tolerance_is_tolerated() -> None:
    _, findings = _readings([5, 9, 9, 9, 5])  # out 0..30 min: not longer than 30
    assert findings == []


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_out_of_range_for_longer_than_the_tolerance_is_an_excursion() -> None:
    _, findings = _readings([5, 9, 9, 9, 9, 5])  # out for 45 min
    (finding,) = findings
    assert finding.code == "TEMP_EXCURSION_FRESH"
    assert "for 45 min" in finding.summary


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_too_cold_is_an_excursion_too() -> None:
    _, findings = _readings([5, 1.5, 1.0, 0.5, 0.5, 5])
    (finding,) = findings
    assert "out of 2..8 C" in finding.summary
    assert "worst 0.5 C" in finding.summary


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_an_excursion_is_reported_once_and_closed_by_an_in_range_reading() -> None:
    state, findings = _readings([9] * 10 + [5] + [9] * 4)
    assert [f.code for f in findings] == ["TEMP_EXCURSION_FRESH"] * 2  # two excursions
    assert findings[0].subject != findings[1].subject
    assert list(state.temperatures.excursions) == [state.shipment_tracks["SHP-IN-1"].shipment_id]


def _interval(low: float, high: float, minutes: int) -> list[Finding]:
    s = _in_transit(F48)
    d = s.t.inbound_depart
    s.interval_report(s.ship_in, s.logger_in, d, d + minutes * M, low, high)
    return run(s.events, F48)[1]


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_an_interval_report_uses_its_min_and_max() -> None:
    assert _interval(4.0, 7.5, 60) == []
    assert codes(_interval(4.0, 8.5, 45)) == {"TEMP_EXCURSION_FRESH"}  # worst case: 45 min out
    assert _interval(4.0, 8.5, 20) == []  # shorter than the tolerance
    assert codes(_interval(1.0, 4.0, 45)) == {"TEMP_EXCURSION_FRESH"}


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH", "REQ-ALCOA-ACCURATE")
def test_fahrenheit_readings_are_converted() -> None:
    s = _in_transit(F48)
    d = s.t.inbound_depart
    for i in range(6):
        s.emit(
            EventType.TEMPERATURE_READING, d + i * 15 * M,
            TemperatureDetail(logger_id=s.logger_in, unit="FAH", value=41.0 if i == 0 else 50.0),
            partner="logger", shipment_id=s.ship_in,
        )  # fmt: skip
    _, findings = run(s.events, F48)
    (finding,) = findings
    assert "worst 10.0 C" in finding.summary


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_CRYO", "REQ-FN-PROFILES")
def test_cryo_tolerance_from_the_profile() -> None:
    s = Story(C120)  # limit -120 C, 15 min tolerance
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    start: datetime = s.t.mfg_complete + timedelta(hours=1)  # after cryopreservation
    for i, value in enumerate([-150, -110, -110, -150, -110, -110, -110, -150]):
        s.reading(None, "FREEZER-1", start + i * 10 * M, value)
    _, findings = run(s.events, C120)
    (finding,) = [f for f in findings if f.code.startswith("TEMP")]
    assert finding.code == "TEMP_EXCURSION_CRYO"
    assert finding.subject == f"logger:FREEZER-1@{(start + 40 * M).isoformat()}"


@pytest.mark.req("REQ-EXC-TEMP_EXCURSION_FRESH")
def test_a_reading_older_than_the_latest_is_ignored() -> None:
    s = _in_transit(F48)
    d = s.t.inbound_depart
    s.reading(s.ship_in, s.logger_in, d + 60 * M, 5.0)
    s.reading(s.ship_in, s.logger_in, d + 15 * M, 20.0)  # uploaded late, out of order
    state, findings = run(s.events, F48)
    assert findings == []
    assert state.temperatures.last_reading_at[s.ship_in] == d + 60 * M


@pytest.mark.req("REQ-EXC-LOGGER_DATA_GAP", "REQ-FN-IDENTITY")
def test_a_logger_known_only_by_its_id_is_matched_to_its_shipment() -> None:
    s = _in_transit(F48)
    d = s.t.inbound_depart
    s.reading(None, s.logger_in, d + 15 * M, 5.0)
    state, _ = run(s.events, F48)
    assert state.temperatures.readings == {s.ship_in: 1}


@pytest.mark.req("REQ-EXC-LOGGER_DATA_GAP")
def test_a_named_logger_that_never_reports_is_a_gap_from_departure() -> None:
    s = _in_transit(F48)  # the departure names the shipment's logger
    d = s.t.inbound_depart
    # The logger feed's own lateness (12 h here: uploads may lag) is waited out before silence
    # counts: the story's ticks at T are judged at T + the chain's lateness (see run()).
    wait = PROFILES[F48].late_sla(EventType.TEMPERATURE_READING) - PROFILES[F48].allowed_lateness
    _, early = run([*s.events, tick(d + 60 * M + wait - M)], F48)
    assert "LOGGER_DATA_GAP" not in codes(early)
    _, findings = run([*s.events, tick(d + 59 * M), tick(d + 60 * M + wait)], F48)
    (finding,) = [f for f in findings if f.code == "LOGGER_DATA_GAP"]
    assert finding.code == "LOGGER_DATA_GAP"
    assert finding.subject == f"{s.ship_in}@{d.isoformat()}"
    assert finding.occurred_at == d + 60 * M


@pytest.mark.req("REQ-EXC-LOGGER_DATA_GAP", "REQ-EXC-RELEASE_EVIDENCE_INCOMPLETE")
def test_a_shipment_without_a_logger_is_left_to_release_readiness() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    d = s.t.inbound_depart
    s.shipment(EventType.SHIPMENT_DEPARTED, s.ship_in, d, "DEPARTED", lane=s.lane_in)
    state, findings = run([*s.events, tick(d + 5 * 60 * M)], F48)
    assert findings == []
    assert f"no temperature record for shipment {s.ship_in}" in missing_evidence(
        state, PROFILES[F48]
    )
