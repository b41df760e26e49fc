"""The engine judges in event time: records that arrive late, batched or out of order across
partner feeds (each feed in its own order, within its allowed lateness) lead to the same cases
as the same records in event-time order; an absence waits for the lateness of what it awaits;
an alarm-at-once case the record does not bear out is withdrawn; a chain the clinic ended stops
its clocks; a record later than its lateness is still judged and is LATE_EVENT."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.chain.engine import apply, new_chain
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.events.models import Event, EventType
from tests.scenarios.builders import Story, troubled
from tests.scenarios.harness import PROFILES, codes, tick

pytestmark = pytest.mark.req("REQ-INV-04")

H, M = timedelta(hours=1), timedelta(minutes=1)
F48, C120 = "cart-fresh-48h", "cart-cryo-120"


def received(event: Event, at: datetime) -> Event:
    """``event`` as received at ``at`` (the partner recorded it then too)."""
    return event.model_copy(
        update={"recorded_at": at, "source": event.source.model_copy(update={"received_at": at})}
    )


def hub_run(events: Iterable[Event], profile: ProductProfile) -> tuple[ChainState, list[Finding]]:
    """Records in receipt order (a feed's records received at one instant in the order given),
    the hub's clock ticking whenever the chain has work (its ``wake_at``: a live hub's ticks
    every few seconds reach it then), until nothing is left to judge."""
    indexed = sorted(enumerate(events), key=lambda ie: (ie[1].source.received_at, ie[0]))
    records = [e for _, e in indexed]
    state = new_chain(records[0].coi_id or "")
    findings: list[Finding] = []
    while records or state.wake_at is not None:
        wake = state.wake_at
        if records and (wake is None or records[0].source.received_at < wake):
            state, found = apply(state, records.pop(0), profile)
        else:
            assert wake is not None
            state, found = apply(state, tick(wake), profile)
        findings += found
    return state, findings


def final(findings: list[Finding]) -> set[tuple[str, str]]:
    """The (code, subject) pairs standing at the end: raised and not withdrawn."""
    standing: dict[str, bool] = {}
    for f in findings:
        standing[f.key] = not f.withdrawn
    return {tuple(k.split("|", 1)) for k, up in standing.items() if up}  # type: ignore[misc]


def test_a_thaw_record_behind_its_infusion_is_judged_in_event_time() -> None:
    s = Story(C120).clean()
    thaw = next(e for e in s.events if e.event_type is EventType.PRODUCT_THAWED)
    infusion = next(e for e in s.events if e.event_type is EventType.INFUSION_COMPLETED)
    late = received(thaw, infusion.source.received_at + 30 * M)  # the pharmacy posts later
    _, findings = hub_run([late if e is thaw else e for e in s.events], PROFILES[C120])
    assert findings == []


def test_an_acceptance_in_flight_at_the_deadline_raises_no_custody_gap() -> None:
    s = Story(F48).clean()
    original = next(e for e in s.events if e.event_type is EventType.CUSTODY_ACCEPTED)
    accept = original
    release = next(e for e in s.events if e.event_type is EventType.CUSTODY_RELEASED)
    profile = PROFILES[F48]
    due = release.occurred_at + profile.turnaround(s.lane_in) + profile.custody_grace
    # accepted just in time, and the courier's report reaches the hub after the deadline
    accept = accept.model_copy(update={"occurred_at": due - 5 * M})
    late = received(accept, due + 30 * M)
    _, findings = hub_run([late if e is original else e for e in s.events], profile)
    assert "CUSTODY_GAP" not in codes(findings)


def test_an_absence_is_judged_once_the_lateness_of_what_it_awaits_passed() -> None:
    s = Story(F48)
    s.phase_order()
    s.collect()
    release = s.release("H1", s.t.inbound_depart, s.aph, s.cdmo, s.lane_in)
    profile = PROFILES[F48]
    due = release.occurred_at + profile.turnaround(s.lane_in) + profile.custody_grace
    state, before = hub_run(s.events, profile)
    (gap,) = [f for f in before if f.code == "CUSTODY_GAP"]
    assert gap.occurred_at == due  # event time: the deadline
    state = new_chain(s.coi)
    for event in s.events:
        state, _ = apply(state, event, profile)
    _, early = apply(state, tick(due + profile.allowed_lateness - M), profile)
    assert "CUSTODY_GAP" not in codes(early)


def test_an_alarm_the_record_does_not_bear_out_in_event_time_is_withdrawn() -> None:
    s = Story(F48)  # cryo limit -150 C, no tolerance: one reading above it is an excursion
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing()
    s.phase_release()
    d = s.t.planned_ship
    s.release(s.ship_out, d, s.cdmo, s.site, s.lane_out)
    s.shipment(
        EventType.SHIPMENT_DEPARTED, s.ship_out, d, "DEPARTED",
        eta=s.t.outbound_arrive, lane=s.lane_out, logger_id=s.logger_out,
    )  # fmt: skip
    first = s.reading(s.ship_out, s.logger_out, d + H, -100.0)
    second = s.reading(s.ship_out, s.logger_out, d + 2 * H, -100.0)
    # the logger's second reading reaches the hub before its first (a re-sent upload)
    early = received(second, d + 2 * H + 5 * M)
    late = received(first, d + 2 * H + 10 * M)
    events = [e for e in s.events if e not in (first, second)] + [early, late]
    _, findings = hub_run(events, PROFILES[F48])
    cryo = [f for f in findings if f.code == "TEMP_EXCURSION_CRYO"]
    # at once: an alarm per reading as known on arrival; in event time the excursion started
    # with the first reading, so the alarm that named the second is withdrawn
    assert [(f.subject.split("@")[1], f.withdrawn) for f in cryo] == [
        ((d + 2 * H).isoformat(), False),
        ((d + H).isoformat(), False),
        ((d + 2 * H).isoformat(), True),
    ]
    standing = {subject for code, subject in final(findings) if code == "TEMP_EXCURSION_CRYO"}
    assert standing == {f"{s.ship_out}@{(d + H).isoformat()}"}


def test_a_chain_the_clinic_ended_stops_its_clocks_even_if_the_news_comes_late() -> None:
    s = Story(F48)
    s.phase_order()  # a slot is booked: SLOT_MISSED if no material arrives by its start
    withdrawn = s.patient_status(s.t.slot_start - H, "WITHDRAWN")
    profile = PROFILES[F48]
    news = received(withdrawn, s.t.slot_start + 30 * M)  # after the slot start
    _, findings = hub_run([news if e is withdrawn else e for e in s.events], profile)
    assert codes(findings) == {"PATIENT_STATUS_CHANGE"}  # no SLOT_MISSED, news in time


def test_a_record_later_than_its_lateness_is_judged_and_is_late_event() -> None:
    s = Story(F48).clean()
    review = next(e for e in s.events if e.event_type is EventType.BATCH_RECORD_REVIEWED)
    profile = PROFILES[F48]
    late = review.model_copy(
        update={
            "source": review.source.model_copy(
                update={"received_at": review.occurred_at + profile.allowed_lateness + H}
            )
        }
    )
    state, findings = hub_run([late if e is review else e for e in s.events], profile)
    assert codes(findings) == {"LATE_EVENT"}
    assert "received by the hub" in findings[0].summary
    assert state.readiness.batch_record_reviewed


# --- any arrival order within lateness ends as event-time order does -------------------------


def feeds_delayed(events: list[Event], profile: ProductProfile, draws: list[float]) -> list[Event]:
    """Each record delayed by a share of its remaining lateness; each partner's feed kept in
    its own order (a record never overtakes an earlier one of its partner)."""
    out: list[Event] = []
    last: dict[str, datetime] = {}
    ordered = sorted(events, key=lambda e: e.source.received_at)
    for n, event in enumerate(ordered):
        share = draws[n % len(draws)]
        budget = event.occurred_at + profile.late_sla(event.event_type) - M
        room = max(budget - event.source.received_at, timedelta(0))
        at = event.source.received_at + room * share
        at = max(at, last.get(event.source.partner, at))
        last[event.source.partner] = at
        out.append(received(event, at) if at != event.source.received_at else event)
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(["default", F48, C120]),
    draws=st.lists(st.floats(0, 1), min_size=200, max_size=200),
)
def test_a_clean_chain_raises_nothing_in_any_arrival_order(
    profile: str, draws: list[float]
) -> None:
    story = Story(profile).clean()
    prof = PROFILES[profile]
    _, ordered = hub_run(story.events, prof)
    assert ordered == []
    _, reordered = hub_run(feeds_delayed(story.events, prof, draws), prof)
    assert final(reordered) == set()
    assert not any(f.code != "LATE_EVENT" for f in reordered)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draws=st.lists(st.floats(0, 1), min_size=200, max_size=200))
def test_a_troubled_chain_raises_the_same_cases_in_any_arrival_order(draws: list[float]) -> None:
    story = troubled()
    prof = PROFILES["cart-fresh-48h"]
    _, ordered = hub_run(story.events, prof)
    _, reordered = hub_run(feeds_delayed(story.events, prof, draws), prof)
    assert {code for code, _ in final(ordered)} >= {"SLOT_MISSED", "THAW_WINDOW_EXCEEDED"}
    assert final(reordered) == final(ordered)


def test_records_delayed_to_the_edge_of_their_lateness_change_nothing() -> None:
    story = troubled()
    prof = PROFILES["cart-fresh-48h"]
    _, ordered = hub_run(story.events, prof)
    _, edge = hub_run(feeds_delayed(story.events, prof, [1.0] * len(story.events)), prof)
    assert final(edge) == final(ordered) != set()
