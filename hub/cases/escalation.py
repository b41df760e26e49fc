"""Escalation policy (pure): who is told about a case, at which level, through which channel.

The policy is configuration (``escalation_policy.yaml``): per severity, an ordered list of
levels, each naming the role to notify, the channel, and how long an unacknowledged case waits
before the next level. :func:`escalations_for` gives the first notification of a new case,
:func:`reescalations_due` the next levels of a case nobody acknowledged in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from hub.cases.models import Case, CaseStatus, Escalation
from hub.chain.findings import Severity
from hub.errors import ConfigurationError
from hub.events.ids import derive_id
from hub.events.models import Frozen


class Level(Frozen):
    role: str
    channel: str = "log"
    ack_within_min: float | None = Field(None, gt=0, description="re-escalate after this")


class EscalationPolicy(Frozen):
    levels: dict[Severity, list[Level]]

    def first_level(self, severity: Severity) -> Level | None:
        levels = self.levels.get(severity) or []
        return levels[0] if levels else None


def load_policy(path: Path) -> EscalationPolicy:
    try:
        return EscalationPolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"escalation policy {path}: {exc}") from exc


def _notice(
    case: Case, level: int, target: Level, reason: str, at: datetime, message: str
) -> Escalation:
    """A notification about ``case`` to ``target`` (its ``level``). The id derives from (case,
    level) and, for a withdrawal, the fact that it is one: a recomputation gives the same id."""
    kind = "withdrawal" if reason == "WITHDRAWN" else "escalation"
    return Escalation(
        escalation_id=derive_id(kind, case.case_id, level),
        case_id=case.case_id,
        case_version=case.version,
        coi_id=case.coi_id,
        code=case.code,
        severity=case.severity,
        level=level,
        recipient_role=target.role,
        channel=target.channel,
        reason=reason,
        issued_at=at,
        message=f"[{case.severity.value}] {case.code} on chain {case.coi_id}{message}",
    )


def escalations_for(case: Case, policy: EscalationPolicy) -> list[Escalation]:
    """Notifications owed for this case version: level 1 when a case opens.

    The escalation id is derived from (case, level), so a replayed case version never owes a
    second notification.
    """
    if case.version != 1 or case.status is not CaseStatus.OPEN:
        return []
    level = policy.first_level(case.severity)
    if level is None:
        return []
    return [_notice(case, 1, level, "NEW_CASE", case.detected_at, f": {case.summary}")]


def reescalations_due(
    case: Case,
    last_level: int,
    last_escalated_at: datetime,
    now: datetime,
    policy: EscalationPolicy,
) -> list[Escalation]:
    """Re-escalations owed at ``now`` for a case last escalated to ``last_level`` at
    ``last_escalated_at``: the next level when the current one has ``ack_within_min`` and the
    case is still OPEN that long after; several levels when several waits have passed (e.g.
    after an outage), each issued at the time it fell due.

    Acknowledged or resolved cases are never re-escalated. Escalation ids derive from
    (case_id, level), the same as :func:`escalations_for`, so a restart that recomputes an
    escalation produces the same id and the notifier's idempotency key suppresses it.
    """
    if case.status is not CaseStatus.OPEN:
        return []
    levels = policy.levels.get(case.severity) or []
    owed: list[Escalation] = []
    level, since = last_level, last_escalated_at
    while 1 <= level < len(levels):
        wait = levels[level - 1].ack_within_min
        if wait is None:
            break
        due = since + timedelta(minutes=wait)
        if now < due:
            break
        level += 1
        target = levels[level - 1]
        owed.append(
            _notice(
                case,
                level,
                target,
                "NOT_ACKNOWLEDGED",
                due,
                f" not acknowledged within {wait:g} min (level {level - 1}): {case.summary}",
            )
        )
        since = due
    return owed


def withdrawals_for(case: Case, reached: int, policy: EscalationPolicy) -> list[Escalation]:
    """A withdrawn case: everyone notified about it (levels 1 to ``reached``) is told, on the
    channel they were notified on. Ids derive from (case, level), so a replay notifies once."""
    levels = policy.levels.get(case.severity) or []
    at = case.resolved_at or case.detected_at
    why = f" WITHDRAWN by the hub: {case.resolution or case.summary}"
    return [
        _notice(case, level, target, "WITHDRAWN", at, why)
        for level, target in enumerate(levels[:reached], start=1)
    ]
