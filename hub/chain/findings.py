"""What a rule reports: a finding, which the case layer turns into (a version of) a case."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from hub.events.models import Frozen, UtcDatetime


class Severity(StrEnum):
    """DOMAIN.md section 6: C critical (patient safety, stop), H high, M medium, L low."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Finding(Frozen):
    """One detected exception. ``subject`` separates instances of one code in one chain
    (a handover id, a shipment id, a QC test); ``occurred_at`` is in event time.

    ``severity`` overrides the catalogue's severity for this instance (e.g. a certification
    without release-ready evidence is CRITICAL where the planned-ship warning is HIGH); None
    means the catalogue's.
    """

    code: str
    coi_id: str
    subject: str
    occurred_at: UtcDatetime
    summary: str
    evidence_event_ids: list[str] = Field(default_factory=list)
    severity: Severity | None = None
    withdrawn: bool = False
    """The evidence, judged in event time, no longer bears out this earlier (alarm-at-once)
    finding: the case layer withdraws the case. ``evidence_event_ids`` names the record."""

    @property
    def key(self) -> str:
        return f"{self.code}|{self.subject}"
