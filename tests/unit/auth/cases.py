"""Cases for the auth tests, made the way the hub makes them (findings -> case versions)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case
from hub.chain.findings import Finding

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def case_of(code: str, coi: str = "COI1", subject: str = "s1") -> Case:
    finding = Finding(
        code=code,
        coi_id=coi,
        subject=subject,
        occurred_at=T0,
        summary=f"{code} found",
        evidence_event_ids=["e1"],
    )
    (case,) = apply_findings({}, [finding], T0)
    return case
