"""``apply(state, event, profile) -> (state, findings)``: pure, total and idempotent.

* pure: no I/O, no clock; time comes from the event (a CLOCK_TICK for absence-of-event rules).
  The input state is never mutated: the engine works on :meth:`ChainState.clone` (a copy of
  the mutable containers only; frozen records are shared), and returns the input object itself
  when nothing changed (an already-processed event, a tick with nothing due);
* total: partner data never makes it raise; rules skip what they cannot use;
* idempotent: an event id already processed returns the state unchanged and no findings; an
  event whose business key and content equal an earlier one's (a partner resent it under a new
  message id) is recorded as processed and changes nothing else.
"""

from __future__ import annotations

from hub.chain import rules as _rules  # noqa: F401  (registers every rule)
from hub.chain.catalogue import REGISTRY
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.rules.data_quality import screen_duplicate
from hub.chain.stages import next_stage
from hub.chain.state import ChainState, MilestoneSource
from hub.chain.vocab import is_certified
from hub.events.models import Event, EventType, QualityDecisionDetail, ScheduleDetail

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
    new = state.clone()
    new.processed_event_ids.append(event.event_id)
    new.event_count += 1
    if new.last_event_at is None or event.occurred_at > new.last_event_at:
        new.last_event_at = event.occurred_at
    absorbed, findings = screen_duplicate(new, event)
    if absorbed:
        return new, []
    _record(new, event)
    for fn in REGISTRY.by_event.get(event.event_type, ()):
        findings.extend(fn(new, event, profile))
    return new, _first_reports(new, findings)


def _record(state: ChainState, event: Event) -> None:
    """Book-keeping every event gets: milestone (earliest time wins), source, identifiers,
    product profile and stage. A release decision is a milestone only when it certifies."""
    kind = event.event_type.value
    detail = event.detail
    milestone = not (
        event.event_type is EventType.RELEASE_DECIDED
        and not (isinstance(detail, QualityDecisionDetail) and is_certified(detail.decision))
    )
    if milestone:
        seen = state.milestones.get(kind)
        if seen is None or event.occurred_at < seen:
            state.milestones[kind] = event.occurred_at
            state.milestone_sources[kind] = MilestoneSource(
                event_id=event.event_id,
                partner=event.source.partner,
                message_id=event.source.message_id,
            )
    if isinstance(detail, ScheduleDetail) and detail.product_profile:
        state.product_profile = detail.product_profile
    ids = event.identifiers
    for name in _ID_FIELDS:
        value = getattr(ids, name)
        if value is not None:
            values = state.identifiers.setdefault(name, [])
            if value not in values:
                values.append(value)
    state.stage = next_stage(
        state.stage, event.event_type, EventType.RELEASE_DECIDED.value in state.milestones
    )


def _tick(
    state: ChainState, event: Event, profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    now = event.occurred_at
    if not any(d.due_at <= now for d in state.deadlines):
        return state, []
    new = state.clone()
    due = sorted(
        (d for d in new.deadlines if d.due_at <= now), key=lambda d: (d.due_at, d.code, d.subject)
    )
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
