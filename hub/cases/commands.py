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

A command the HTTP edge refused (``refusal``: not authorised, re-authentication needed, a stale
version) travels the same path and is rejected here with the edge's code, so every refusal of a
person's command becomes the same kind of audit record (a rejection). A command that carries an
electronic signature is applied only to the exact case version the signature names (its version
and digest), for the action, actor and reason it states.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from hub.auth.signatures import ESignature
from hub.canonical import digest
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
    NOT_AUTHORISED = "NOT_AUTHORISED"
    REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED"
    STALE_VERSION = "STALE_VERSION"
    SIGNATURE_MISMATCH = "SIGNATURE_MISMATCH"


class Refusal(Frozen):
    """Why the HTTP edge refused a command: its code, the rule that refused it, and the
    explanation the person was given."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.CommandRefusal"
    code: CommandError
    rule: str
    message: str


class CaseCommand(Frozen):
    """A person's command on a case. ``actor`` is the authenticated subject and ``roles`` the
    roles it held; ``reason`` is the why (required to resolve and to comment); ``assignee`` the
    person or role to assign to; ``signature`` the electronic signature the command is (when it
    is one); ``refusal`` set when the edge refused the command (recorded, never applied)."""

    command_id: str
    case_id: str
    action: CaseAction
    actor: str
    at: UtcDatetime
    reason: str | None = None
    assignee: str | None = None
    roles: list[str] = Field(default_factory=list)
    signature: ESignature | None = None
    refusal: Refusal | None = None


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
    roles: list[str] = Field(default_factory=list)
    signature: ESignature | None = None


class CommandApplied(Frozen):
    case: Case
    note: CaseNote


class CommandRejected(Frozen):
    command_id: str
    case_id: str
    action: CaseAction
    error: CommandError
    message: str
    actor: str = ""
    at: UtcDatetime | None = None


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
            actor=command.actor,
            at=command.at,
        )
    actor = command.actor.strip()
    changes: dict[str, Any] = {"version": case.version + 1, "updated_at": command.at}
    if command.signature is not None:
        changes["signatures"] = [*case.signatures, command.signature]
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
        roles=command.roles,
        signature=command.signature,
    )
    return CommandApplied(case=new, note=note)


def _check(case: Case, command: CaseCommand) -> tuple[CommandError, str] | None:
    action = command.action
    if command.case_id != case.case_id:
        return CommandError.WRONG_CASE, f"command for {command.case_id}, case is {case.case_id}"
    if command.refusal is not None:
        refusal = command.refusal
        return refusal.code, f"refused at the edge by rule {refusal.rule}: {refusal.message}"
    if not command.actor.strip():
        return CommandError.MISSING_ACTOR, "a command must say who gives it"
    if command.signature is not None:
        mismatch = _signature_mismatch(case, command, command.signature)
        if mismatch is not None:
            return mismatch
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


def _signature_mismatch(
    case: Case, command: CaseCommand, sig: ESignature
) -> tuple[CommandError, str] | None:
    """A signature applies only to the case version it names, for what it states."""
    if sig.case_id != case.case_id or sig.case_version != case.version:
        return CommandError.STALE_VERSION, (
            f"the signature signs {sig.case_id} version {sig.case_version}; the case is at "
            f"version {case.version}"
        )
    if sig.case_digest != digest(case):
        return CommandError.SIGNATURE_MISMATCH, (
            f"the signature's digest is not that of {case.case_id} version {case.version}"
        )
    stated = (sig.action, sig.signer, sig.reason)
    if stated != (command.action.value, command.actor, command.reason):
        return CommandError.SIGNATURE_MISMATCH, (
            "the signature states another action, signer or reason than the command"
        )
    return None
