"""Running event streams through the engine and the case layer, as the runtime does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case
from hub.chain.engine import apply, new_chain
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile, load_profiles
from hub.chain.state import CaseRef, ChainState
from hub.events.ids import derive_id
from hub.events.models import ClockTickDetail, Event, EventType, Source

PROFILE_DIR = Path(__file__).resolve().parents[2] / "hub" / "chain" / "profiles"
PROFILES = load_profiles(PROFILE_DIR)


def recorded(event: Event) -> datetime:
    return event.recorded_at


def tick(at: datetime) -> Event:
    return Event(
        event_id=derive_id("tick", at.isoformat()),
        event_type=EventType.CLOCK_TICK,
        occurred_at=at,
        recorded_at=at,
        source=Source(partner="hub", system="clock", message_id=at.isoformat(), received_at=at),
        detail=ClockTickDetail(clock="simulated"),
    )


def ticks(start: datetime, end: datetime, every: timedelta) -> list[Event]:
    out, at = [], start
    while at <= end:
        out.append(tick(at))
        at += every
    return out


def run(
    events: Iterable[Event], profile: ProductProfile | str, state: ChainState | None = None
) -> tuple[ChainState, list[Finding]]:
    """Apply ``events`` in order to one chain; return the final state and every finding."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    events = list(events)
    if state is None:
        state = new_chain(next(e.coi_id for e in events if e.coi_id))
    findings: list[Finding] = []
    for event in events:
        state, found = apply(state, event, prof)
        findings.extend(found)
    return state, findings


def run_cases(
    events: Iterable[Event], profile: ProductProfile | str
) -> tuple[dict[str, CaseRef], list[Case]]:
    """Findings through the case layer, as the runtime does (fixed detection time)."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    events = list(events)
    state = new_chain(next(e.coi_id for e in events if e.coi_id))
    refs: dict[str, CaseRef] = {}
    cases: list[Case] = []
    for event in events:
        state, found = apply(state, event, prof)
        refs, emitted = apply_findings(refs, found, event.occurred_at)
        cases.extend(emitted)
    return refs, cases


def codes(findings: Iterable[Finding]) -> set[str]:
    return {f.code for f in findings}


def only(findings: list[Finding], code: str) -> list[Finding]:
    """Assert ``code`` was raised and nothing else was; return its findings."""
    found = codes(findings)
    assert code in found, f"{code} not raised; got {sorted(found)}"
    assert found == {code}, f"unrelated codes raised: {sorted(found - {code})}"
    return [f for f in findings if f.code == code]
