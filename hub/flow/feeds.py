"""What a partner's message and a clock tick do to its feed row: the message heard (counted in
the row, :func:`heard_step`); at a tick, health judged and cases opened or resolved.

The decisions are :func:`hub.partners.health.judge`'s; this turns them into what a chain step
emits (:class:`hub.flow.records.Step`), through the same case desk as a chain's cases: a finding
opens a case and owes its level-1 escalation, an unacknowledged case is re-escalated, and an
episode that ended is resolved by the hub with a command of its own (``hub:feed-health``), on
the audit trail like a person's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from hub.audit.records import Entry, case_entry, command_entry, event_entry
from hub.cases.commands import CaseAction, CaseCommand, CommandApplied
from hub.cases.desk import command as desk_command
from hub.cases.desk import receive_findings
from hub.cases.desk import tick as desk_tick
from hub.cases.escalation import EscalationPolicy
from hub.cases.lifecycle import case_id_for
from hub.cases.models import Case
from hub.chain.state import ChainState
from hub.events.ids import derive_id
from hub.events.models import Event
from hub.flow.chain import Chain
from hub.flow.records import Step
from hub.partners.health import (
    HUB_ACTOR,
    Dependent,
    FeedHealth,
    FeedPolicy,
    feed_key,
    hear,
    is_feed_key,
    judge,
    take,
)


def new_row(partner: str, partition: int | None = None) -> Chain:
    """The row of a feed the hub has not judged before."""
    return Chain(
        state=ChainState(coi_id=feed_key(partner), partition=partition),
        feed=FeedHealth(partner=partner),
    )


def heard_step(
    partner: str,
    row: Chain | None,
    at: datetime,
    dead: bool,
    source: str | None = None,
    offset: int | None = None,
    partition: int | None = None,
) -> Step:
    """One message of ``partner`` received at ``at`` (``dead``: dead-lettered wholly or in
    part), read from ``source`` at ``offset``: counted in the feed's row (None when new), to be
    judged at the next tick after its minute. Nothing when it was counted before."""
    known = row or new_row(partner, partition)
    health = hear(known.feed or FeedHealth(partner=partner), at, dead, source, offset)
    if health is None:
        return Step()
    return Step(chain=replace(known, feed=health))


def feed_step(
    policy: FeedPolicy,
    escalation: EscalationPolicy,
    row: Chain | None,
    tick: Event,
    chains: Callable[[], Iterable[Dependent]],
    partition: int | None = None,
    audit: bool = True,
) -> Step:
    """The tick ``tick`` on the feed of ``policy.partner`` (its row, None when new), with the
    minutes heard from it that ended by then; ``chains`` gives every chain the driver holds, in
    brief (read only when a silence begins, for the chains at risk). With ``audit``, a tick
    that makes case versions puts them on the row's audit trail (key ``partner:<id>``) after
    the tick, with the hub's resolutions; a tick that only updates the feed's health adds
    nothing to it."""
    now = tick.occurred_at
    known = row or new_row(policy.partner, partition)
    heard, health = take(known.feed or FeedHealth(partner=policy.partner), now)

    def dependents() -> Iterable[Dependent]:
        return (c for c in chains() if not is_feed_key(c.coi_id))

    verdict = judge(health, policy, heard, now, tick.event_id, dependents)
    desk, opened, escalations = receive_findings(
        known.desk, list(verdict.findings), now, escalation
    )
    cases: list[Case] = list(opened)
    entries: list[Entry] = [event_entry(tick), *(case_entry(c, now) for c in opened)]
    for recovery in verdict.recovered:
        case_id = case_id_for(feed_key(policy.partner), recovery.code, recovery.subject)
        case = desk.cases.get(case_id)
        if case is None or case.status.closed:
            continue  # a person closed it already
        cmd = CaseCommand(
            command_id=derive_id("feed-recovered", case_id, case.version),
            case_id=case_id,
            action=CaseAction.RESOLVE,
            actor=HUB_ACTOR,
            at=now,
            reason=recovery.reason,
        )
        desk, result = desk_command(desk, cmd)
        if isinstance(result, CommandApplied):
            cases.append(result.case)
            entries += [command_entry(cmd, result.note), case_entry(result.case, now)]
    desk, overdue = desk_tick(desk, now, escalation)
    if verdict.health == known.feed and desk is known.desk:
        return Step()
    state = known.state
    if partition is not None and state.partition != partition:
        state = state.model_copy(update={"partition": partition})
    changed = replace(known, state=state, desk=desk, feed=verdict.health)
    changed, records = changed.audited(entries) if audit and cases else (changed, ())
    return Step(
        chain=changed,
        cases=tuple(cases),
        escalations=(*escalations, *overdue),
        audit=records,
    )
