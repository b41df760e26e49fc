"""Findings -> case versions (pure). One case per (COI, code, subject).

A first finding opens version 1. A later finding for the same case makes a new version when it
brings new evidence or a higher severity (severity never goes down); status, assignee,
acknowledgement, resolution and ``opened_at`` are carried over from the case reference.
Acknowledge / resolve / assign / comment are commands (:mod:`hub.cases.commands`); after
publishing a command's case version the caller records it with :func:`record_case`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from hub.cases.models import Case, CaseStatus
from hub.chain.catalogue import lookup
from hub.chain.findings import Finding, Severity
from hub.chain.state import CaseRef
from hub.events.ids import derive_id

_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


def case_id_for(coi_id: str, code: str, subject: str) -> str:
    return derive_id("case", coi_id, code, subject)


def ref_for(case: Case) -> CaseRef:
    """The chain's memory of ``case`` (what the next version must carry over)."""
    return CaseRef(
        case_id=case.case_id,
        version=case.version,
        status=case.status.value,
        severity=case.severity.value,
        evidence_event_ids=list(case.evidence_event_ids),
        opened_at=case.opened_at,
        assignee=case.assignee,
        acknowledged_by=case.acknowledged_by,
        acknowledged_at=case.acknowledged_at,
        resolved_by=case.resolved_by,
        resolved_at=case.resolved_at,
        resolution=case.resolution,
    )


def record_case(refs: dict[str, CaseRef], case: Case) -> dict[str, CaseRef]:
    """``refs`` with ``case`` recorded, unless a newer version is already known."""
    known = refs.get(case.case_id)
    if known is not None and known.version >= case.version:
        return refs
    return {**refs, case.case_id: ref_for(case)}


def apply_findings(
    refs: dict[str, CaseRef], findings: Iterable[Finding], detected_at: datetime
) -> tuple[dict[str, CaseRef], list[Case]]:
    """Return the updated case references of a chain and the case versions to publish.

    ``detected_at`` is the hub's wall clock when the finding was made (detection latency is
    ``detected_at - finding.occurred_at``). The input ``refs`` is not modified.
    """
    refs = dict(refs)
    emitted: list[Case] = []
    for finding in findings:
        entry = lookup(finding.code)
        severity = finding.severity or entry.severity
        case_id = case_id_for(finding.coi_id, finding.code, finding.subject)
        ref = refs.get(case_id)
        if ref is None:
            ref = CaseRef(case_id=case_id, version=0, status=CaseStatus.OPEN.value, severity="")
            evidence = list(dict.fromkeys(finding.evidence_event_ids))
        else:
            new_evidence = [
                e for e in finding.evidence_event_ids if e not in ref.evidence_event_ids
            ]
            previous = Severity(ref.severity)
            raised = _RANK[severity] > _RANK[previous]
            if not new_evidence and not raised:
                continue
            severity = severity if raised else previous
            evidence = ref.evidence_event_ids + list(dict.fromkeys(new_evidence))
        case = Case(
            case_id=case_id,
            version=ref.version + 1,
            coi_id=finding.coi_id,
            code=finding.code,
            title=entry.title,
            severity=severity,
            owner_role=entry.owner_role,
            status=CaseStatus(ref.status),
            subject=finding.subject,
            summary=finding.summary,
            opened_at=ref.opened_at or finding.occurred_at,
            updated_at=finding.occurred_at,
            detected_at=detected_at,
            evidence_event_ids=evidence,
            playbook=list(entry.playbook),
            assignee=ref.assignee,
            acknowledged_by=ref.acknowledged_by,
            acknowledged_at=ref.acknowledged_at,
            resolved_by=ref.resolved_by,
            resolved_at=ref.resolved_at,
            resolution=ref.resolution,
        )
        refs[case_id] = ref_for(case)
        emitted.append(case)
    return refs, emitted
