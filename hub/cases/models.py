"""Case (exception instance) and escalation records: pydantic mirrors of ``schemas/case.avsc``
and ``schemas/escalation.avsc``."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from hub.auth.signatures import ESignature
from hub.chain.findings import Severity
from hub.events.models import Frozen, UtcDatetime


class CaseStatus(StrEnum):
    """``WITHDRAWN``: the hub itself closed the case because evidence that arrived later
    disproved it (actor ``hub:event-time``); a person closes a case as ``RESOLVED``."""

    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    WITHDRAWN = "WITHDRAWN"

    @property
    def closed(self) -> bool:
        return self in (CaseStatus.RESOLVED, CaseStatus.WITHDRAWN)


class Case(Frozen):
    """One exception instance, deduplicated per (COI, code, subject).

    Every change is a new ``version`` of the same ``case_id`` on the cases topic; a reader keeps
    the highest version. ``signatures`` are the electronic signatures given on the case so far,
    each naming the version it signed (the version after it is the first to carry it).
    """

    AVRO_NAME: ClassVar[str] = "org.v2vhub.Case"
    case_id: str
    version: int
    coi_id: str
    code: str
    title: str
    severity: Severity
    owner_role: str
    status: CaseStatus
    subject: str
    summary: str
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    detected_at: UtcDatetime
    evidence_event_ids: list[str] = Field(default_factory=list)
    playbook: list[str] = Field(default_factory=list)
    assignee: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: UtcDatetime | None = None
    resolved_by: str | None = None
    resolved_at: UtcDatetime | None = None
    resolution: str | None = None
    signatures: list[ESignature] = Field(default_factory=list)


class Escalation(Frozen):
    """A notification owed to a role about a case, at an escalation level (1 = first)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.Escalation"
    escalation_id: str
    case_id: str
    case_version: int
    coi_id: str
    code: str
    severity: Severity
    level: int
    recipient_role: str
    channel: str
    reason: str
    issued_at: UtcDatetime
    message: str
