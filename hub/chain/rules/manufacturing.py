"""Manufacturing-side time rules: FRESH_STABILITY_BREACH, SLOT_MISSED.

Both are absence-of-event rules armed as deadlines (fired by clock ticks) and checked again when
the awaited event arrives late, so a missed tick never hides a breach.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline
from hub.events.models import Event, EventType, ScheduleDetail

FRESH_STABILITY_BREACH = entry(
    "FRESH_STABILITY_BREACH",
    "Fresh starting material too old for manufacturing",
    Severity.CRITICAL,
    "manufacturer + clinic",
    evidence=("collection end", "manufacturing start (or its absence)", "profile limit"),
    playbook=(
        "Do not start manufacturing without QA approval of the out-of-window material",
        "Assess with the clinic whether a re-collection is possible and safe",
        "Reschedule the manufacturing slot accordingly",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.MANUFACTURING_STARTED,),
    ends_with_chain=True,
)
SLOT_MISSED = entry(
    "SLOT_MISSED",
    "Manufacturing slot missed",
    Severity.HIGH,
    "manufacturing planning",
    evidence=("slot (id, start)", "shipment ETA / receipt time"),
    playbook=(
        "Confirm where the material is and its new arrival time",
        "Book the next feasible slot within the stability window",
        "Inform the treatment site of the new timeline",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.MATERIAL_RECEIVED,),
    ends_with_chain=True,
)

_MATERIAL = "starting-material"


@rule(EventType.COLLECTION_COMPLETED)
def stability_clock(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    end = state.plan.collection_end
    started = EventType.MANUFACTURING_STARTED.value in state.milestones
    if profile.starting_material != "fresh" or end is None or started:
        return ()
    due = end + profile.fresh_stability
    state.set_deadline(
        FRESH_STABILITY_BREACH.code,
        _MATERIAL,
        due,
        [event.event_id],
        f"fresh material collected {end.isoformat()}; manufacturing not started by "
        f"{due.isoformat()} (stability {profile.fresh_stability_h:g} h)",
    )
    return ()


@rule(EventType.MANUFACTURING_STARTED)
def started_in_time(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    state.clear_deadline(FRESH_STABILITY_BREACH.code)
    end = state.plan.collection_end
    if profile.starting_material != "fresh" or end is None:
        return ()
    age = event.occurred_at - end
    if age <= profile.fresh_stability:
        return ()
    source = state.milestone_sources.get(EventType.COLLECTION_COMPLETED.value)
    return (
        FRESH_STABILITY_BREACH.finding(
            state,
            _MATERIAL,
            event.occurred_at,
            f"manufacturing started {age.total_seconds() / 3600:.1f} h after collection end "
            f"{end.isoformat()} (stability {profile.fresh_stability_h:g} h)",
            [*([source.event_id] if source else []), event.event_id],
        ),
    )


@deadline(FRESH_STABILITY_BREACH.code)
def stability_expired(
    state: ChainState, due: Deadline, profile: ProductProfile
) -> Iterable[Finding]:
    if EventType.MANUFACTURING_STARTED.value in state.milestones:
        return ()
    return (
        FRESH_STABILITY_BREACH.finding(
            state, due.subject, due.due_at, due.summary, due.evidence_event_ids
        ),
    )


def _slot(state: ChainState) -> str:
    return state.plan.slot_id or "slot"


@rule(EventType.THERAPY_ORDERED, EventType.SLOT_BOOKED, EventType.SLOT_RESCHEDULED)
def slot_watch(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    start = state.plan.slot_start
    if not isinstance(detail, ScheduleDetail) or detail.slot_start is None or start is None:
        return ()
    if EventType.MATERIAL_RECEIVED.value in state.milestones:
        return ()
    state.clear_deadline(SLOT_MISSED.code)
    due = start + profile.slot_grace
    state.set_deadline(
        SLOT_MISSED.code,
        _slot(state),
        due,
        [event.event_id],
        f"slot {_slot(state)} starts {start.isoformat()}; material not received by "
        f"{due.isoformat()}",
    )
    return ()


@rule(EventType.MATERIAL_RECEIVED)
def received_for_slot(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    state.clear_deadline(SLOT_MISSED.code)
    start = state.plan.slot_start
    if start is None or event.occurred_at <= start + profile.slot_grace:
        return ()
    late = (event.occurred_at - start).total_seconds() / 3600
    return (
        SLOT_MISSED.finding(
            state,
            _slot(state),
            event.occurred_at,
            f"material received {late:.1f} h after slot {_slot(state)} started {start.isoformat()}",
            [event.event_id],
        ),
    )


@deadline(SLOT_MISSED.code)
def slot_passed(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if EventType.MATERIAL_RECEIVED.value in state.milestones:
        return ()
    return (
        SLOT_MISSED.finding(state, due.subject, due.due_at, due.summary, due.evidence_event_ids),
    )
