"""A record on time by its own stamps that the hub's own pipeline delivers behind records it
received later (records of one chain on several raw partitions, a backlog after an outage, a
webhook retried for an hour) is judged in event-time order all the same: the chain is re-judged
from its base with the record in place, and the cases reconcile. Any delivery order of records
that each arrived within their lateness, skewed by less than the chain's re-judging window,
ends with the cases of event-time order; a record later than its lateness is still LATE_EVENT."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hub.chain.engine import apply, new_chain
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.events.models import Event, EventType
from tests.scenarios.builders import Story, troubled
from tests.scenarios.harness import PROFILES, tick
from tests.unit.chain.test_event_time import final, hub_run, received

pytestmark = pytest.mark.req("REQ-INV-04")

M = timedelta(minutes=1)
F48, C120 = "cart-fresh-48h", "cart-cryo-120"


def longest_lateness(profile: ProductProfile) -> timedelta:
    late = profile.late_event
    return timedelta(minutes=max([late.sla_min, *late.by_event_type_min.values()]))


def skew_allowed(profile: ProductProfile) -> timedelta:
    """How far the hub's pipeline may deliver a record behind one it received later and still
    have it judged in order: the re-judging window plus the chain's lateness, less the
    longest lateness of a record (see ``hub.chain.engine._rejudges``)."""
    return profile.rejudge_window + profile.allowed_lateness - longest_lateness(profile) - M


def stamped(events: list[Event], profile: ProductProfile, shares: list[float]) -> list[Event]:
    """Each record received within its own lateness (a share of what is left of it); no
    feed's order kept."""
    out: list[Event] = []
    for n, event in enumerate(sorted(events, key=lambda e: e.source.received_at)):
        budget = event.occurred_at + profile.late_sla(event.event_type) - M
        room = max(budget - event.source.received_at, timedelta(0))
        at = event.source.received_at + room * shares[n % len(shares)]
        out.append(received(event, at) if at != event.source.received_at else event)
    return out


def delivered(
    events: list[Event], skew: timedelta, draws: list[float]
) -> list[tuple[datetime, Event]]:
    """When the hub's pipeline hands each record to its chain: up to ``skew`` after its receipt
    (its stamps unchanged), so records overtake one another within a feed and across feeds."""
    held = [
        (e.source.received_at + skew * draws[n % len(draws)], n, e) for n, e in enumerate(events)
    ]
    return [(at, e) for at, _, e in sorted(held, key=lambda h: (h[0], h[1]))]


def in_order(events: list[Event]) -> list[tuple[datetime, Event]]:
    """Each record handed to its chain as it is received, in event-time order."""
    return [(e.source.received_at, e) for e in sorted(events, key=lambda e: e.occurred_at)]


TICKS = timedelta(minutes=15)


def run_delivered(
    deliveries: list[tuple[datetime, Event]], profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    """Records handed to the chain at their delivery times, the hub's clock ticking every
    quarter of an hour (a tick reaches the chain when it has work, its ``wake_at``), then
    until nothing is left to judge."""
    state = new_chain(deliveries[0][1].coi_id or "")
    findings: list[Finding] = []
    queue = list(deliveries)
    at = queue[0][0]
    while queue or state.wake_at is not None:
        while queue and queue[0][0] <= at:
            state, found = apply(state, queue.pop(0)[1], profile)
            findings += found
        if state.wake_at is not None and state.wake_at <= at:
            state, found = apply(state, tick(at), profile)
            findings += found
        at += TICKS
    return state, findings


draws = st.lists(st.floats(0, 1), min_size=50, max_size=50)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a shrink would take minutes
)
@given(profile=st.sampled_from(["default", F48, C120]), shares=draws, held=draws)
def test_a_clean_chain_ends_clean_in_any_delivery_order_within_lateness(
    profile: str, shares: list[float], held: list[float]
) -> None:
    prof = PROFILES[profile]
    records = stamped(Story(profile).clean().events, prof, shares)
    _, ordered = run_delivered(in_order(records), prof)
    assert final(ordered) == set()
    _, reordered = run_delivered(delivered(records, skew_allowed(prof), held), prof)
    assert final(reordered) == set()
    assert not [f for f in reordered if f.code == "LATE_EVENT"]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a shrink would take minutes
)
@given(shares=draws, held=draws)
def test_injected_faults_are_found_in_any_delivery_order_within_lateness(
    shares: list[float], held: list[float]
) -> None:
    prof = PROFILES[F48]
    records = stamped(troubled().events, prof, shares)
    _, ordered = run_delivered(in_order(records), prof)
    found = final(ordered)
    assert {code for code, _ in found} >= {"SLOT_MISSED", "THAW_WINDOW_EXCEEDED"}
    _, reordered = run_delivered(delivered(records, skew_allowed(prof), held), prof)
    assert final(reordered) == found


def test_a_record_later_than_its_lateness_is_still_late_event_and_not_rejudged() -> None:
    prof = PROFILES["default"]
    story = Story("default").clean()
    records = sorted(story.events, key=lambda e: e.source.received_at)
    thaw = next(e for e in records if e.event_type is EventType.PRODUCT_THAWED)
    late = received(thaw, thaw.occurred_at + prof.late_sla(thaw.event_type) + M)
    records = [late if e is thaw else e for e in records]
    _state, findings = run_delivered([(e.source.received_at, e) for e in records], prof)
    assert ("LATE_EVENT", "clinic") in {(f.code, f.subject) for f in findings if f.code}
    assert "LATE_EVENT" in {code for code, _ in final(findings)}


def test_recent_records_stay_bounded_and_the_base_follows() -> None:
    """A long chain keeps no more than twice its cap of recent records, and reaches back at
    least one window (or its cap) for re-judging."""
    prof = PROFILES[F48]
    story = Story(F48).clean()
    state, _ = hub_run(story.events, prof)
    assert len(state.recent) <= 2 * prof.late_event.rejudge_max
    assert state.base is not None
    assert state.processed_event_ids[-len(state.recent) :] == [e.event_id for e in state.recent]
    assert len(state.base.processed_event_ids) + len(state.recent) == len(state.processed_event_ids)
    frontier = state.frontier
    assert frontier is not None
    assert state.base.frontier is not None
    assert (
        len(state.recent) >= prof.late_event.rejudge_max
        or frontier - state.base.frontier >= prof.rejudge_window
    )
