"""``apply(state, event, profile) -> (state, findings)``: pure, total and idempotent, judged in
event time.

Partner feeds do not arrive in event order: each partner's own feed is in order, but feeds run
at different speeds. The engine therefore judges a chain in **event time** (the model of
watermarks and allowed lateness of Akidau et al., "The Dataflow Model", VLDB 2015):

* The hub's clock is the receipt time of the record (a tick's time for a CLOCK_TICK). The
  chain's allowed lateness ``L`` is its profile's (``late_event.sla_min``).
* A record is first kept **pending**. Once the hub's clock passes ``occurred_at + L`` nothing
  dated before it may still arrive within lateness, so pending records are judged then, in
  event-time order, with every deadline falling due in between fired at its place in that order:
  the **frontier** (``clock - L``) is how far the chain has judged. Every rule thus sees the
  chain as it happened, whatever order the feeds delivered it in.
* An absence rule's deadline ``T`` is judged once the frontier passes ``T`` and the lateness of
  the records it waits for (its catalogue entry's ``awaits``) has passed: ``T + lateness``.
* A rule whose code is **alarm-at-once** (decided by the record itself: an identity mismatch,
  an out-of-spec result, a cryo excursion) also runs when the record arrives, against the chain
  as judged so far, so its case opens at once; when the record is judged in order and does not
  bear the finding out, the engine reports it withdrawn.
* A record dated before the frontier that is **on time by its own stamps** (received and
  recorded within its type's lateness) was held up by the hub's own pipeline (records of one
  chain on several raw partitions, a backlog after an outage): the chain is **re-judged**. It
  keeps its recent judged records (``recent``: at least the re-judging window of event time
  behind its frontier, or ``rejudge_max`` records; at most twice that) and the chain as judged
  before them (``base``). The record is held until the chain next advances (so a burst is
  re-judged once), then the chain is rebuilt from its base with the recent and held records
  in event-time order; the findings reconcile the cases: a case no longer borne out is
  withdrawn (the held records as evidence), a case borne out now is raised, a case borne out
  both ways is left alone. A record dated before the base is judged at once, out of order.
* A record later than the allowed lateness (dated before the frontier) is still judged, at
  once, out of order (at the frontier); its partner is told by LATE_EVENT.
* When the clinic ends the chain (patient withdrawn, ineligible, deceased, order revoked), the
  therapy's clocks stop: deadlines of codes that ``end with the chain`` due after the end are
  dropped and never armed again.

Pure: no I/O, no clock of its own. Total: partner data never makes it raise. Idempotent: an
event id already pending or judged changes nothing; an event whose business key and content
equal an earlier one's (a resend under a new message id) is recorded and changes nothing else.
The input state is never mutated (the engine works on :meth:`ChainState.clone`), and a tick with
nothing to do returns the input object itself.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from hub.chain import rules as _rules  # noqa: F401  (registers every rule)
from hub.chain.catalogue import REGISTRY, Timing, lookup
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.rules.data_quality import screen_duplicate
from hub.chain.stages import next_stage
from hub.chain.state import ChainState, Deadline, MilestoneSource
from hub.chain.vocab import PATIENT_END, is_certified, norm
from hub.events.models import (
    Event,
    EventType,
    PatientStatusDetail,
    QualityDecisionDetail,
    ScheduleDetail,
)

_ID_FIELDS = ("din", "batch_id", "shipment_id", "order_id", "logger_id", "sample_id")


def new_chain(coi_id: str) -> ChainState:
    return ChainState(coi_id=coi_id)


def apply(
    state: ChainState, event: Event, profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    if event.event_type is EventType.CLOCK_TICK:
        return _tick(state, event.occurred_at, profile)
    if event.event_id in state.processed_event_ids or any(
        p.event_id == event.event_id for p in state.pending
    ):
        return state, []
    new = state.clone()
    new.event_count += 1  # taken: judged now or once its lateness passed
    if new.last_event_at is None or event.occurred_at > new.last_event_at:
        new.last_event_at = event.occurred_at
    received = event.source.received_at
    new.clock = received if state.clock is None else max(state.clock, received)
    partner = event.source.partner
    if partner != "hub" and (partner not in new.feeds or event.occurred_at > new.feeds[partner]):
        new.feeds[partner] = event.occurred_at
    findings = _alarm_at_once(state, new, event, profile)
    _hold(new, event)
    if not _rejudges(new, event, profile):  # else held: re-judged with any that follow it
        new, more = _advance(new, profile)
        findings += more
    _trim(new, profile)
    new.wake_at = wake_at(new, profile)
    return new, findings


def rebase(state: ChainState) -> ChainState:
    """``state`` with the chain as judged so far as its base and no recent records: for a state
    whose base is unknown (a row written before the hub kept one, or one whose rows are not all
    found), which can still re-judge what arrives from now on."""
    if state.base is not None or len(state.processed_event_ids) == len(state.recent):
        return state  # a base known, or a new chain: every judged record is a recent one
    base = state.clone()
    base.pending, base.provisional, base.recent, base.recent_at = [], {}, [], {}
    base.base, base.wake_at = None, None
    new = state.clone()
    new.base, new.recent, new.recent_at = base, [], {}
    return new


def wake_at(state: ChainState, profile: ProductProfile) -> datetime | None:
    """When the hub's clock next gives this chain work: a pending record's lateness passes, or
    a deadline's."""
    times = [_judged_at(d, profile) for d in state.deadlines]
    if state.pending:  # in event-time order: the first is released first
        times.append(state.pending[0].occurred_at + profile.allowed_lateness)
    return min(times, default=None)


def _tick(
    state: ChainState, now: datetime, profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    wake = state.wake_at if state.wake_at is not None else wake_at(state, profile)
    if wake is None or wake > now:
        return state, []
    new = state.clone()
    new.clock = now if state.clock is None else max(state.clock, now)
    head = _head_of(state)
    if head is not None:  # judging pending records moves them, not the chain as known
        _remember_head(new, head)
    new, findings = _advance(new, profile)
    _trim(new, profile)
    new.wake_at = wake_at(new, profile)
    return new, findings


_LATENESS: dict[tuple[str, int], tuple[ProductProfile, timedelta]] = {}


def _judged_at(deadline: Deadline, profile: ProductProfile) -> datetime:
    key = (deadline.code, id(profile))
    known = _LATENESS.get(key)
    if known is None or known[0] is not profile:
        entry = REGISTRY.entries.get(deadline.code)
        lateness = entry.lateness(profile) if entry is not None else profile.allowed_lateness
        known = _LATENESS[key] = (profile, lateness)
    return deadline.due_at + known[1]


# The chain as known now (judged + every pending record applied in order), kept per state object
# so that an alarm-at-once check of a record arriving in order costs one application instead
# of re-applying every pending record: a memo of a pure function of the state, bounded.
_HEADS: OrderedDict[int, tuple[ChainState, ChainState]] = OrderedDict()
_HEADS_MAX = 4_096  # recently active chains; a miss re-applies the pending records


def _head_of(state: ChainState) -> ChainState | None:
    item = _HEADS.get(id(state))
    if item is None or item[0] is not state:
        return None
    _HEADS.move_to_end(id(state))
    return item[1]


def _take_head(state: ChainState) -> ChainState | None:
    item = _HEADS.pop(id(state), None)
    return item[1] if item is not None and item[0] is state else None


def _remember_head(state: ChainState, head: ChainState) -> None:
    _HEADS[id(state)] = (state, head)
    _HEADS.move_to_end(id(state))
    while len(_HEADS) > _HEADS_MAX:
        _HEADS.popitem(last=False)


def _hold(state: ChainState, event: Event) -> None:
    """Keep ``event`` pending, in event-time order (ties: partner, message, arrival)."""
    key = _order(event)
    at = len(state.pending)
    while at > 0 and _order(state.pending[at - 1]) > key:
        at -= 1
    state.pending.insert(at, event)


def _order(event: Event) -> tuple[datetime, str, str]:
    return event.occurred_at, event.source.partner, event.source.message_id


def _alarm_at_once(
    judged: ChainState, new: ChainState, event: Event, profile: ProductProfile
) -> list[Finding]:
    """The alarm-at-once findings of ``event`` against the chain as the hub knows it now (a
    throwaway copy of the judged chain with the pending records dated before ``event``
    applied); remembered as provisional until the event is judged in order."""
    if new.frontier is not None and event.occurred_at <= new.frontier:
        return []  # later than allowed lateness: judged in full right away
    in_order = not judged.pending or _order(judged.pending[-1]) <= _order(event)
    # the cached head moves on to the new state (the input state keeps none, so applying
    # another record to it rebuilds one): no copy of the chain per record in order
    head = _take_head(judged) if in_order else None
    if head is None:
        head = judged.clone()
        for earlier in judged.pending:
            if _order(earlier) > _order(event):
                break
            _judge(head, earlier, profile)
    found = [f for f in _judge(head, event, profile) if lookup(f.code).timing is Timing.AT_ONCE]
    if in_order:
        _remember_head(new, head)
    for finding in found:
        new.provisional.setdefault(finding.key, event.event_id)
    return found


def _advance(state: ChainState, profile: ProductProfile) -> tuple[ChainState, list[Finding]]:
    """Judge, in event-time order, every pending record and deadline the hub's clock allows:
    first the records held to be re-judged (the chain rebuilt with them in order, a new
    state), then the others (in place)."""
    assert state.clock is not None
    if state.frontier is not None and state.pending:
        frontier = state.frontier
        held = []
        for event in state.pending:
            if event.occurred_at > frontier:
                break
            if _rejudges(state, event, profile):
                held.append(event)
        if held:
            return _rejudge(state, held, profile)
    return state, _judge_pending(state, profile)


def _judge_pending(state: ChainState, profile: ProductProfile) -> list[Finding]:
    assert state.clock is not None
    target = state.clock - profile.allowed_lateness
    floor = state.frontier
    if floor is not None and target < floor:
        target = floor
    split = 0
    while split < len(state.pending) and state.pending[split].occurred_at <= target:
        split += 1
    ready, state.pending = state.pending[:split], state.pending[split:]
    # a record dated at or before the frontier is judged there, out of event-time order
    items = [(e.occurred_at if floor is None or e.occurred_at > floor else floor, e) for e in ready]
    return _replay(state, items, profile, target)


def _replay(
    state: ChainState,
    items: list[tuple[datetime, Event]],
    profile: ProductProfile,
    until: datetime,
) -> list[Finding]:
    """Judge ``items`` (each record at its place in event time, in order) with every deadline
    falling due in between, then the deadlines up to ``until``, the new frontier; the records
    join the chain's recent ones."""
    findings: list[Finding] = []
    for at, event in items:
        if event.event_id in state.processed_event_ids:
            continue
        findings += _fire(state, profile, at, inclusive=False)
        findings += _judge(state, event, profile)
        state.recent.append(event)  # the recent records: the last of the processed ids
        if at != event.occurred_at:
            state.recent_at[event.event_id] = at
    findings += _fire(state, profile, until, inclusive=True)
    state.frontier = until
    return findings


# --- re-judging: a record the hub's own pipeline delivered behind the frontier -------------


def _placed(state: ChainState, event: Event) -> datetime:
    """Where a recent record was judged in event time."""
    return state.recent_at.get(event.event_id, event.occurred_at)


def _rejudges(state: ChainState, event: Event, profile: ProductProfile) -> bool:
    """Whether ``event`` arrives behind the chain's frontier although it is on time by its own
    stamps (its records within its type's lateness), and after the chain's base: the hub's
    pipeline delivered it behind records it received later (records of one chain on several
    raw partitions, a backlog after an outage), so the chain is re-judged with it in order."""
    frontier = state.frontier
    if frontier is None or event.occurred_at > frontier:
        return False
    lag = max(event.recorded_at, event.source.received_at) - event.occurred_at
    if lag > profile.late_sla(event.event_type):
        return False  # late by its own stamps: judged at once, LATE_EVENT
    base = state.base
    return base is None or base.frontier is None or event.occurred_at > base.frontier


def _rejudge(
    state: ChainState, held: list[Event], profile: ProductProfile
) -> tuple[ChainState, list[Finding]]:
    """The chain rebuilt from its base with its recent records and the ``held`` ones judged
    again in event-time order, up to its frontier, then advanced as usual. The findings
    reconcile the cases: one no longer borne out is withdrawn (the held records as evidence),
    one borne out now is raised, one borne out both ways is left alone unless a held record
    adds to its evidence."""
    assert state.frontier is not None
    rebuilt = (state.base or new_chain(state.coi_id)).clone()
    for name in ("partition", "clock", "feeds", "event_count", "last_event_at"):
        setattr(rebuilt, name, getattr(state, name))
    ids = {e.event_id for e in held}
    rebuilt.pending = [e for e in state.pending if e.event_id not in ids]
    rebuilt.provisional = dict(state.provisional)  # the pending records' alarms
    rebuilt.base = state.base
    rebuilt.recent, rebuilt.recent_at = [], {}
    items = [(_placed(state, e), e) for e in state.recent]
    items += [(e.occurred_at, e) for e in held]
    items.sort(key=lambda item: (item[0], item[1].source.partner, item[1].source.message_id))
    found = _replay(rebuilt, items, profile, state.frontier)
    before, after = set(state.raised), set(rebuilt.raised)
    findings = [
        f
        for f in found
        if f.withdrawn or f.key not in before or not ids.isdisjoint(f.evidence_event_ids)
    ]
    first = held[0]
    what = (
        f"{first.event_type.value} from {first.source.partner} (message "
        f"{first.source.message_id})"
        + (f" and {len(held) - 1} more record(s)" if len(held) > 1 else "")
    )
    summary = (
        f"withdrawn: {what}, on time but delivered behind later records, judged again in "
        "event-time order: the chain no longer bears the case out"
    )
    evidence = [e.event_id for e in held]
    for key in sorted(before - after):
        findings.append(_withdrawal(state.coi_id, key, first.occurred_at, summary, evidence))
    findings += _judge_pending(rebuilt, profile)
    return rebuilt, findings


def _trim(state: ChainState, profile: ProductProfile) -> None:
    """Keep the recent records bounded: once they reach back more than twice the re-judging
    window (or number twice its cap), the oldest move into the base (judged into a copy of it)
    until those kept reach back one window and number at most the cap."""
    recent, frontier = state.recent, state.frontier
    if not recent or frontier is None:
        return
    window, cap = profile.rejudge_window, profile.late_event.rejudge_max
    if _placed(state, recent[0]) >= frontier - 2 * window and len(recent) <= 2 * cap:
        return
    cut = frontier - window
    n = 0
    while n < len(recent) and _placed(state, recent[n]) <= cut:
        n += 1
    n = max(n, len(recent) - cap)
    last = _placed(state, recent[n - 1])
    while n < len(recent) and _placed(state, recent[n]) <= last:
        n += 1
    moved, state.recent = recent[:n], recent[n:]
    base = (state.base or new_chain(state.coi_id)).clone()
    base.clock = state.clock
    base.pending, base.provisional, base.base = [], {}, None
    base.recent, base.recent_at = [], {}
    _replay(base, [(_placed(state, e), e) for e in moved], profile, last)
    base.recent, base.recent_at, base.wake_at = [], {}, None
    state.base = base
    for e in moved:
        state.recent_at.pop(e.event_id, None)


def _fire(
    state: ChainState, profile: ProductProfile, until: datetime, *, inclusive: bool
) -> list[Finding]:
    """Fire the deadlines due before ``until`` (or at it, when ``inclusive``) whose lateness
    has passed on the hub's clock. A record at a deadline's very instant counts as in time."""
    assert state.clock is not None
    now = state.clock
    due = [
        d
        for d in state.deadlines
        if (d.due_at <= until if inclusive else d.due_at < until) and _judged_at(d, profile) <= now
    ]
    if not due:
        return []
    fired = {id(d) for d in due}
    state.deadlines = [d for d in state.deadlines if id(d) not in fired]
    findings: list[Finding] = []
    for item in sorted(due, key=lambda d: (d.due_at, d.code, d.subject)):
        handler = REGISTRY.on_deadline.get(item.code)
        if handler is not None:
            findings.extend(handler(state, item, profile))
    return _first_reports(state, findings)


def _judge(state: ChainState, event: Event, profile: ProductProfile) -> list[Finding]:
    """One record through every rule, in place, as the chain stands in event time."""
    if event.event_id in state.processed_event_ids:
        return []
    state.processed_event_ids.append(event.event_id)
    absorbed, findings = screen_duplicate(state, event)
    if not absorbed:
        _record(state, event)
        for fn in REGISTRY.by_event.get(event.event_type, ()):
            findings.extend(fn(state, event, profile))
    _end(state, event)
    findings = _first_reports(state, findings)
    return _confirm(state, event, findings)


def _confirm(state: ChainState, event: Event, judged: list[Finding]) -> list[Finding]:
    """``judged`` less what was already alarmed at once for ``event`` (reported then), plus a
    withdrawal of each such alarm its judgement in order does not bear out."""
    mine = {k for k, e in state.provisional.items() if e == event.event_id}
    if not mine:
        return judged
    borne = {f.key for f in judged}
    withdrawn: list[Finding] = []
    for key in sorted(mine):
        del state.provisional[key]
        if key in borne:
            continue
        summary = (
            f"withdrawn: {event.event_type.value} from {event.source.partner} "
            f"(message {event.source.message_id}), judged in event-time order with "
            "every record of its time, does not bear the alarm out"
        )
        withdrawn.append(
            _withdrawal(state.coi_id, key, event.occurred_at, summary, [event.event_id])
        )
    return [f for f in judged if f.key not in mine] + withdrawn


def _withdrawal(coi_id: str, key: str, at: datetime, summary: str, evidence: list[str]) -> Finding:
    """The finding that withdraws the case of ``key`` (``CODE|subject``): evidence arriving
    later no longer bears it out."""
    code, _, subject = key.partition("|")
    return Finding(
        code=code,
        coi_id=coi_id,
        subject=subject,
        occurred_at=at,
        summary=summary,
        evidence_event_ids=evidence,
        withdrawn=True,
    )


def _end(state: ChainState, event: Event) -> None:
    """The clinic ended the chain: the therapy's clocks stop (material disposition does not)."""
    detail = event.detail
    if (
        event.event_type is EventType.PATIENT_STATUS_CHANGED
        and isinstance(detail, PatientStatusDetail)
        and norm(detail.status) in PATIENT_END
        and (state.ended_at is None or event.occurred_at < state.ended_at)
    ):
        state.ended_at = event.occurred_at
    if state.ended_at is not None:
        ended = state.ended_at
        state.deadlines = [
            d for d in state.deadlines if not (lookup(d.code).ends_with_chain and d.due_at >= ended)
        ]


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


def _first_reports(state: ChainState, findings: list[Finding]) -> list[Finding]:
    """Remember which (code, subject) pairs were reported; repeats still pass (they may carry
    new evidence: the case layer decides whether a new case version is due)."""
    for finding in findings:
        if finding.key not in state.raised:
            state.raised.append(finding.key)
    return findings
