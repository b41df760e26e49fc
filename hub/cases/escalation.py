"""Escalation policy (pure): who is told about a case, at which level, through which channel.

The policy is configuration (``escalation_policy.yaml``): per severity, an ordered list of
levels, each naming the role to notify, the channel, and how long an unacknowledged case waits
before the next level.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from hub.cases.models import Case, CaseStatus, Escalation, Severity
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
    return [
        Escalation(
            escalation_id=derive_id("escalation", case.case_id, 1),
            case_id=case.case_id,
            case_version=case.version,
            coi_id=case.coi_id,
            code=case.code,
            severity=case.severity,
            level=1,
            recipient_role=level.role,
            channel=level.channel,
            reason="NEW_CASE",
            issued_at=case.detected_at,
            message=f"[{case.severity.value}] {case.code} on chain {case.coi_id}: {case.summary}",
        )
    ]
