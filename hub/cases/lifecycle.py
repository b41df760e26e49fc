"""Findings -> case versions (pure). One case per (COI, code, subject).

A first finding opens version 1; a later finding for the same case with new evidence makes a new
version (status kept). Nothing else changes a case here: acknowledge / resolve / assign are
commands applied by the case layer's command handling.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from hub.cases.models import Case, CaseStatus
from hub.chain.catalogue import lookup
from hub.chain.findings import Finding
from hub.chain.state import CaseRef
from hub.events.ids import derive_id


def case_id_for(coi_id: str, code: str, subject: str) -> str:
    return derive_id("case", coi_id, code, subject)


def apply_findings(
    refs: dict[str, CaseRef], findings: Iterable[Finding], detected_at: datetime
) -> tuple[dict[str, CaseRef], list[Case]]:
    """Return the updated case references of a chain and the case versions to publish.

    ``detected_at`` is the hub's wall clock when the finding was made (detection latency is
    ``detected_at - finding.occurred_at``).
    """
    refs = dict(refs)
    emitted: list[Case] = []
    for finding in findings:
        entry = lookup(finding.code)
        case_id = case_id_for(finding.coi_id, finding.code, finding.subject)
        ref = refs.get(case_id)
        if ref is not None:
            new_evidence = [
                e for e in finding.evidence_event_ids if e not in ref.evidence_event_ids
            ]
            if not new_evidence:
                continue
            evidence = ref.evidence_event_ids + new_evidence
            version = ref.version + 1
            status = CaseStatus(ref.status)
        else:
            evidence = list(finding.evidence_event_ids)
            version = 1
            status = CaseStatus.OPEN
        case = Case(
            case_id=case_id,
            version=version,
            coi_id=finding.coi_id,
            code=finding.code,
            title=entry.title,
            severity=entry.severity,
            owner_role=entry.owner_role,
            status=status,
            subject=finding.subject,
            summary=finding.summary,
            opened_at=finding.occurred_at,
            updated_at=finding.occurred_at,
            detected_at=detected_at,
            evidence_event_ids=evidence,
            playbook=list(entry.playbook),
        )
        refs[case_id] = CaseRef(
            case_id=case_id,
            version=version,
            status=status.value,
            severity=entry.severity.value,
            evidence_event_ids=evidence,
        )
        emitted.append(case)
    return refs, emitted
