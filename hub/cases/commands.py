"""Commands from people on a case (pure): acknowledge, resolve, assign, comment.

``apply_command(case, command)`` returns either :class:`CommandApplied` (the next case version
plus a :class:`CaseNote` saying who did what, when and why, for the audit trail) or
:class:`CommandRejected` with a stable error code; it never raises on a bad command.

Transitions::

    OPEN --acknowledge--> ACKNOWLEDGED --resolve--> RESOLVED
    OPEN --resolve--> RESOLVED
    assign: OPEN or ACKNOWLEDGED;  comment: any status

Guarantee: the same (case version, command) always gives the same result. Applying one command
twice is not detected here (a second acknowledge is rejected, a second comment is not): the
caller keeps the command ids it has applied.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from hub.cases.models import Case, CaseStatus
from hub.events.models import Frozen, UtcDatetime


class CaseAction(StrEnum):
    ACKNOWLEDGE = "ACKNOWLEDGE"
    RESOLVE = "RESOLVE"
    ASSIGN = "ASSIGN"
    COMMENT = "COMMENT"


class CommandError(StrEnum):
    WRONG_CASE = "WRONG_CASE"
    MISSING_ACTOR = "MISSING_ACTOR"
    MISSING_REASON = "MISSING_REASON"
    MISSING_ASSIGNEE = "MISSING_ASSIGNEE"
    ALREADY_ACKNOWLEDGED = "ALREADY_ACKNOWLEDGED"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    CASE_RESOLVED = "CASE_RESOLVED"
    BEFORE_CASE_OPENED = "BEFORE_CASE_OPENED"


class CaseCommand(Frozen):
    """A person's command on a case. ``reason`` is the why (required to resolve and to
    comment); ``assignee`` the person or role to assign to."""

    command_id: str
    case_id: str
    action: CaseAction
    actor: str
    at: UtcDatetime
    reason: str | None = None
    assignee: str | None = None


class CaseNote(Frozen):
    """Who did what to which case version, when and why (for ``v2v.audit``)."""

    command_id: str
    case_id: str
    case_version: int
    action: CaseAction
    actor: str
    at: UtcDatetime
    reason: str | None = None
    assignee: str | None = None


class CommandApplied(Frozen):
    case: Case
    note: CaseNote


class CommandRejected(Frozen):
    command_id: str
    case_id: str
    action: CaseAction
    error: CommandError
    message: str


def apply_command(case: Case, command: CaseCommand) -> CommandApplied | CommandRejected:
    error = _check(case, command)
    if error is not None:
        code, message = error
        return CommandRejected(
            command_id=command.command_id,
            case_id=command.case_id,
            action=command.action,
            error=code,
            message=message,
        )
    actor = command.actor.strip()
    changes: dict[str, Any] = {"version": case.version + 1, "updated_at": command.at}
    if command.action is CaseAction.ACKNOWLEDGE:
        changes.update(
            status=CaseStatus.ACKNOWLEDGED, acknowledged_by=actor, acknowledged_at=command.at
        )
    elif command.action is CaseAction.RESOLVE:
        changes.update(
            status=CaseStatus.RESOLVED,
            resolved_by=actor,
            resolved_at=command.at,
            resolution=(command.reason or "").strip(),
        )
    elif command.action is CaseAction.ASSIGN:
        changes["assignee"] = (command.assignee or "").strip()
    new = case.model_copy(update=changes)
    note = CaseNote(
        command_id=command.command_id,
        case_id=case.case_id,
        case_version=new.version,
        action=command.action,
        actor=actor,
        at=command.at,
        reason=command.reason,
        assignee=new.assignee if command.action is CaseAction.ASSIGN else None,
    )
    return CommandApplied(case=new, note=note)


def _check(case: Case, command: CaseCommand) -> tuple[CommandError, str] | None:
    action = command.action
    if command.case_id != case.case_id:
        return CommandError.WRONG_CASE, f"command for {command.case_id}, case is {case.case_id}"
    if not command.actor.strip():
        return CommandError.MISSING_ACTOR, "a command must say who gives it"
    if command.at < case.opened_at:
        return CommandError.BEFORE_CASE_OPENED, (
            f"command time {command.at.isoformat()} is before the case opened "
            f"({case.opened_at.isoformat()})"
        )
    needs_reason = action in (CaseAction.RESOLVE, CaseAction.COMMENT)
    if needs_reason and not (command.reason or "").strip():
        return CommandError.MISSING_REASON, f"{action.value.lower()} needs a reason"
    if action is CaseAction.ASSIGN and not (command.assignee or "").strip():
        return CommandError.MISSING_ASSIGNEE, "assign needs an assignee"
    if case.status.closed and action is not CaseAction.COMMENT:
        code = CommandError.ALREADY_RESOLVED
        if action is not CaseAction.RESOLVE:
            code = CommandError.CASE_RESOLVED
        how = "withdrawn" if case.status is CaseStatus.WITHDRAWN else "resolved"
        return code, (
            f"case {case.case_id} was {how} by {case.resolved_by} at "
            f"{case.resolved_at.isoformat() if case.resolved_at else 'unknown time'}"
        )
    if action is CaseAction.ACKNOWLEDGE and case.status is CaseStatus.ACKNOWLEDGED:
        return CommandError.ALREADY_ACKNOWLEDGED, (
            f"case {case.case_id} was acknowledged by {case.acknowledged_by}"
        )
    return None
