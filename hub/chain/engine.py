"""``apply(state, event, profile) -> (state, findings)``: pure, total and idempotent.

* pure: no I/O, no clock; time comes from the event (a CLOCK_TICK for absence-of-event rules);
* total: partner data never makes it raise; rules skip what they cannot use;
* idempotent: an event id already processed returns the state unchanged and no findings.
"""

from __future__ import annotations

from hub.chain import rules as _rules  # noqa: F401  (registers every rule)
from hub.chain.catalogue import REGISTRY
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.stages import next_stage
from hub.chain.state import ChainState
from hub.events.models import Event, EventType, ScheduleDetail

_ID_FIELDS = ("din", "batch_id", "shipment_id", "order_id", "logger_id", "sample_id")


def new_chain(coi_id: str) -> ChainState:
    return ChainState(coi_id=coi_id)


def apply(
    state: ChainState, event: Event, profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    if event.event_type is EventType.CLOCK_TICK:
        return _tick(state, event, profile)
    if event.event_id in state.processed_event_ids:
        return state, []
    new = state.model_copy(deep=True)
    new.processed_event_ids.append(event.event_id)
    new.event_count += 1
    if new.last_event_at is None or event.occurred_at > new.last_event_at:
        new.last_event_at = event.occurred_at
    new.milestones.setdefault(event.event_type.value, event.occurred_at)
    if isinstance(event.detail, ScheduleDetail) and event.detail.product_profile:
        new.product_profile = event.detail.product_profile
    for name in _ID_FIELDS:
        value = getattr(event.identifiers, name)
        if value is not None and value not in new.identifiers.setdefault(name, []):
            new.identifiers[name].append(value)
    new.stage = next_stage(
        new.stage, event.event_type, EventType.RELEASE_DECIDED.value in new.milestones
    )
    findings: list[Finding] = []
    for fn in REGISTRY.by_event.get(event.event_type, ()):
        findings.extend(fn(new, event, profile))
    return new, _first_reports(new, findings)


def _tick(
    state: ChainState, event: Event, profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    now = event.occurred_at
    if not any(d.due_at <= now for d in state.deadlines):
        return state, []
    new = state.model_copy(deep=True)
    due = sorted((d for d in new.deadlines if d.due_at <= now), key=lambda d: d.due_at)
    new.deadlines = [d for d in new.deadlines if d.due_at > now]
    findings: list[Finding] = []
    for item in due:
        handler = REGISTRY.on_deadline.get(item.code)
        if handler is not None:
            findings.extend(handler(new, item, profile))
    return new, _first_reports(new, findings)


def _first_reports(state: ChainState, findings: list[Finding]) -> list[Finding]:
    """Remember which (code, subject) pairs were reported; repeats still pass (they may carry
    new evidence: the case layer decides whether a new case version is due)."""
    for finding in findings:
        key = f"{finding.code}|{finding.subject}"
        if key not in state.raised:
            state.raised.append(key)
    return findings
