"""The case desk of one chain (pure): latest case versions, escalation levels, applied commands.

The runtime keeps one desk per chain beside the chain state (same table row, same partition),
so findings, commands and clock ticks of one chain are applied in one order by one worker:

* :func:`receive_findings` turns the engine's findings into case versions (the desk is the
  chain's one memory of its cases) and returns the level-1 escalations owed;
* :func:`receive_cases` records new case versions and returns the level-1 escalations owed
  (and, for a case the hub withdrew, a withdrawal notice to every level it reached);
* :func:`tick` returns the re-escalations that fell due (an unacknowledged case goes up a level);
* :func:`command` applies a person's command (acknowledge / resolve / assign / comment) once.

Every escalation id derives from (case, level), so recomputing after a restart gives the same
ids and the notifier's idempotency keys keep the effect exactly-once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from hub.cases.commands import CaseCommand, CommandApplied, CommandRejected, apply_command
from hub.cases.escalation import (
    EscalationPolicy,
    escalations_for,
    reescalations_due,
    withdrawals_for,
)
from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case, CaseStatus, Escalation
from hub.chain.findings import Finding, Severity
from hub.events.models import UtcDatetime


def next_escalation(
    marks: Iterable[tuple[Severity, int, datetime]], policy: EscalationPolicy
) -> datetime | None:
    """When the earliest of ``marks`` (:meth:`CaseDesk.marks`) next needs re-escalating under
    ``policy`` (None: none does)."""
    due: list[datetime] = []
    for severity, level, at in marks:
        levels = policy.levels.get(severity) or []
        if 1 <= level < len(levels):
            wait = levels[level - 1].ack_within_min
            if wait is not None:
                due.append(at + timedelta(minutes=wait))
    return min(due, default=None)


class Escalated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int
    at: UtcDatetime


class CaseDesk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: dict[str, Case] = Field(default_factory=dict)
    escalated: dict[str, Escalated] = Field(default_factory=dict)
    applied_commands: list[str] = Field(default_factory=list)

    def next_due(self, policy: EscalationPolicy) -> datetime | None:
        """When the earliest open case next needs re-escalating (None: nothing pending)."""
        return next_escalation(self.marks(), policy)

    def marks(self) -> list[tuple[Severity, int, datetime]]:
        """``(severity, level, at)`` of every open case escalated: what :func:`next_escalation`
        needs of the desk, whatever the policy."""
        marks: list[tuple[Severity, int, datetime]] = []
        for case_id, mark in self.escalated.items():
            case = self.cases.get(case_id)
            if case is not None and case.status is CaseStatus.OPEN:
                marks.append((case.severity, mark.level, mark.at))
        return marks

    def open_cases(self) -> Counter[tuple[str, str, str]]:
        """``(severity, code, sla)`` of every case not closed, counted. ``sla`` is where the
        case stands against its escalation policy: ``acknowledged``; ``breached`` when nobody
        acknowledged it in time (it went past its first level); else ``within``."""
        tally: Counter[tuple[str, str, str]] = Counter()
        for case_id, case in self.cases.items():
            if case.status.closed:
                continue
            if case.status is CaseStatus.ACKNOWLEDGED:
                sla = "acknowledged"
            else:
                mark = self.escalated.get(case_id)
                sla = "breached" if mark is not None and mark.level > 1 else "within"
            tally[(case.severity.value, case.code, sla)] += 1
        return tally


def receive_findings(
    desk: CaseDesk, findings: list[Finding], detected_at: datetime, policy: EscalationPolicy
) -> tuple[CaseDesk, list[Case], list[Escalation]]:
    """The case versions ``findings`` make (detected at ``detected_at``), recorded on the desk,
    with the level-1 escalations owed for the cases they open."""
    if not findings:
        return desk, [], []
    cases = apply_findings(desk.cases, findings, detected_at)
    desk, owed = receive_cases(desk, cases, policy)
    return desk, cases, owed


def receive_cases(
    desk: CaseDesk, cases: list[Case], policy: EscalationPolicy
) -> tuple[CaseDesk, list[Escalation]]:
    """Record ``cases`` (newer versions only); level-1 escalations for newly opened ones."""
    if not cases:
        return desk, []
    new = desk.model_copy(deep=True)
    owed: list[Escalation] = []
    for case in cases:
        known = new.cases.get(case.case_id)
        if known is not None and known.version >= case.version:
            continue
        new.cases[case.case_id] = case
        mark = new.escalated.get(case.case_id)
        if case.status is CaseStatus.WITHDRAWN and mark is not None:
            owed.extend(withdrawals_for(case, mark.level, policy))
            continue
        if case.case_id not in new.escalated:
            first = escalations_for(case, policy)
            if first:
                new.escalated[case.case_id] = Escalated(level=1, at=first[0].issued_at)
                owed.extend(first)
    return new, owed


def tick(
    desk: CaseDesk, now: datetime, policy: EscalationPolicy
) -> tuple[CaseDesk, list[Escalation]]:
    """Re-escalations due at ``now`` for open, unacknowledged cases."""
    due_at = desk.next_due(policy)
    if due_at is None or due_at > now:
        return desk, []
    new = desk.model_copy(deep=True)
    owed: list[Escalation] = []
    for case_id, mark in desk.escalated.items():
        case = desk.cases.get(case_id)
        if case is None:
            continue
        more = reescalations_due(case, mark.level, mark.at, now, policy)
        if more:
            new.escalated[case_id] = Escalated(level=more[-1].level, at=more[-1].issued_at)
            owed.extend(more)
    return new, owed


def command(
    desk: CaseDesk, cmd: CaseCommand
) -> tuple[CaseDesk, CommandApplied | CommandRejected | None]:
    """Apply ``cmd`` to its case. None when the command id was applied before (a replay) or
    the case is unknown to this chain (the caller reports that)."""
    if cmd.command_id in desk.applied_commands:
        return desk, None
    case = desk.cases.get(cmd.case_id)
    if case is None:
        return desk, None
    result = apply_command(case, cmd)
    new = desk.model_copy(deep=True)
    new.applied_commands.append(cmd.command_id)
    if isinstance(result, CommandApplied):
        new.cases[case.case_id] = result.case
    return new, result
