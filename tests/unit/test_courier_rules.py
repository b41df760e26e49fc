"""Courier stories through the pure engine with a simulated clock (no broker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RawMessage
from connectors.conformance import CONNECTORS_DIR
from connectors.courier.normalise import CourierConnector
from hub.chain.engine import apply, new_chain
from hub.chain.profiles import load_profiles
from hub.events.models import Event
from hub.flow.core import tick_event
from hub.settings import Settings

SAMPLES = CONNECTORS_DIR / "courier" / "samples"
PROFILE = load_profiles(Settings().profile_dir)["default"]


def events_of(payload: dict, received_delay: timedelta = timedelta(minutes=1)) -> list[Event]:
    at = datetime.fromisoformat(payload["event_time"]).astimezone(UTC) + received_delay
    result = CourierConnector().process(RawMessage("courier", json.dumps(payload).encode(), at))
    assert result.rejection is None
    return list(result.events)


def run(events: list[Event]) -> list[str]:
    state = new_chain(events[0].coi_id or "")
    codes = []
    for event in sorted(events, key=lambda e: e.occurred_at):
        state, findings = apply(state, event, PROFILE)
        codes += [f.code for f in findings]
    return codes


def load(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


@pytest.mark.req("REQ-EXC-CUSTODY_GAP")
def test_custody_gap_fires_on_the_first_tick_after_turnaround_plus_grace() -> None:
    pickup = load("01-pickup.json")
    released = datetime.fromisoformat(pickup["event_time"]).astimezone(UTC)
    # judged once an acceptance dated in time can no longer arrive: + the allowed lateness
    window = PROFILE.turnaround(pickup["lane"]) + PROFILE.custody_grace + PROFILE.allowed_lateness
    story = events_of(pickup)
    before = tick_event(released + window - timedelta(minutes=1), 0, "simulated")
    after = tick_event(released + window, 0, "simulated")
    assert "CUSTODY_GAP" not in run([*story, before])
    assert run([*story, before, after]).count("CUSTODY_GAP") == 1
    # a second tick later does not report the same gap again
    later = tick_event(released + window + timedelta(hours=5), 0, "simulated")
    assert run([*story, after, later]).count("CUSTODY_GAP") == 1


@pytest.mark.req("REQ-EXC-CUSTODY_GAP")
def test_signed_delivery_closes_the_handover_so_no_gap() -> None:
    pickup, delivered = load("01-pickup.json"), load("08-delivered-signed.json")
    released = datetime.fromisoformat(pickup["event_time"]).astimezone(UTC)
    tick = tick_event(released + timedelta(days=3), 0, "simulated")
    assert "CUSTODY_GAP" not in run([*events_of(pickup), *events_of(delivered), tick])


@pytest.mark.req("REQ-EXC-CUSTODY_GAP")
def test_unsigned_delivery_leaves_the_handover_open() -> None:
    pickup = load("01-pickup.json")
    unsigned = {**load("09-delivered-unsigned.json"), "shipment_id": pickup["shipment_id"]}
    released = datetime.fromisoformat(pickup["event_time"]).astimezone(UTC)
    tick = tick_event(released + timedelta(days=3), 0, "simulated")
    assert "CUSTODY_GAP" in run([*events_of(pickup), *events_of(unsigned), tick])


@pytest.mark.req("REQ-EXC-CUSTOMS_HOLD")
def test_customs_hold_and_refusal_raise_customs_hold_per_shipment() -> None:
    codes = run(
        [*events_of(load("05-customs-hold.json")), *events_of(load("07-customs-refused.json"))]
    )
    assert codes.count("CUSTOMS_HOLD") == 2
    assert "CUSTOMS_HOLD" not in run(events_of(load("06-customs-cleared.json")))


@pytest.mark.req("REQ-INV-06")
def test_replaying_the_same_events_changes_nothing() -> None:
    story = events_of(load("05-customs-hold.json"))
    state = new_chain("V2VSAMPLE000001T")
    state, first = apply(state, story[0], PROFILE)
    again, second = apply(state, story[0], PROFILE)
    assert [f.code for f in first] == ["CUSTOMS_HOLD"]
    assert second == []
    assert again == state


@pytest.mark.req("REQ-EXC-INVALID_IDENTIFIER")
def test_a_din_with_a_wrong_check_character_is_kept_and_flagged_on_the_chain() -> None:
    from hub.events.identifiers import parse_din

    pickup = load("01-pickup.json")
    good = parse_din(pickup["din"]).check
    wrong = "0" if good != "0" else "1"
    events = events_of({**pickup, "din_check": wrong})
    assert [e.event_type.value for e in events] == ["SHIPMENT_STATUS", "CUSTODY_RELEASED"]
    assert events[1].identifiers.other["din_check"] == wrong
    assert "INVALID_IDENTIFIER" in run(events)
    assert "INVALID_IDENTIFIER" not in run(events_of({**pickup, "din_check": good}))
