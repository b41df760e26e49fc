"""Running event streams through the engine and the case layer, as the runtime does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from hub.cases.escalation import load_policy
from hub.cases.models import Case
from hub.chain.engine import apply, new_chain
from hub.chain.findings import Finding
from hub.chain.profiles import DEFAULT_PROFILE, ProductProfile, load_profiles
from hub.chain.state import ChainState
from hub.events.ids import derive_id
from hub.events.models import ClockTickDetail, Event, EventType, Source
from hub.flow import Chain, FlowCore
from hub.settings import REPO_ROOT

PROFILE_DIR = REPO_ROOT / "hub" / "chain" / "profiles"
PROFILES = load_profiles(PROFILE_DIR)
POLICY = load_policy(REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml")


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


def judged(events: Iterable[Event], profile: ProductProfile) -> list[Event]:
    """``events`` as a hub receives them and then waits out the allowed lateness: each record
    followed by a tick at its receipt + the lateness (it is judged then), each tick of the
    story moved by the lateness (the story's deadlines at time T are judged at T + lateness).
    What a rule concludes from the story is what the hub concludes once evidence is complete."""
    lateness = profile.allowed_lateness
    out: list[Event] = []
    for event in events:
        if event.event_type is EventType.CLOCK_TICK:
            out.append(tick(event.occurred_at + lateness))
        else:
            out += [event, tick(event.source.received_at + lateness)]
    return out


def run(
    events: Iterable[Event], profile: ProductProfile | str, state: ChainState | None = None
) -> tuple[ChainState, list[Finding]]:
    """Apply ``events`` in order to one chain, each judged once its lateness passed (see
    :func:`judged`); return the final state and every finding."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    events = list(events)
    if state is None:
        state = new_chain(next(e.coi_id for e in events if e.coi_id))
    findings: list[Finding] = []
    for event in judged(events, prof):
        state, found = apply(state, event, prof)
        findings.extend(found)
    return state, findings


def run_cases(events: Iterable[Event], profile: ProductProfile | str) -> list[Case]:
    """Every case version the events make, through the flow core's chain step as the worker
    takes it (the chain is named by the product ``profile`` whatever its orders say)."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    core = FlowCore({}, dict.fromkeys([*PROFILES, DEFAULT_PROFILE], prof), POLICY)
    chain: Chain | None = None
    cases: list[Case] = []
    for event in judged(events, prof):
        if event.event_type is EventType.CLOCK_TICK:
            step = core.on_tick(chain, event) if chain is not None else None
        else:
            step = core.on_event(chain, event)
        if step is None:
            continue
        assert step.failure is None, step.failure
        chain = step.chain or chain
        cases.extend(step.cases)
    return cases


def codes(findings: Iterable[Finding]) -> set[str]:
    return {f.code for f in findings}


def only(findings: list[Finding], code: str) -> list[Finding]:
    """Assert ``code`` was raised and nothing else was; return its findings."""
    found = codes(findings)
    assert code in found, f"{code} not raised; got {sorted(found)}"
    assert found == {code}, f"unrelated codes raised: {sorted(found - {code})}"
    return [f for f in findings if f.code == code]
