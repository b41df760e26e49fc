"""Findings -> case versions (pure). One case per (COI, code, subject).

A first finding opens version 1. A later finding for the same case makes a new version when it
brings new evidence or a higher severity (severity never goes down); status, assignee,
acknowledgement, resolution, signatures and ``opened_at`` are carried over from the latest
version, which the chain's case desk (:mod:`hub.cases.desk`) keeps: the one memory of a
chain's cases. A withdrawn finding (evidence judged in event time disproves it) makes a
WITHDRAWN version of an open case, by ``hub:event-time``, with the disproving record as
evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from hub.cases.models import Case, CaseStatus
from hub.chain.catalogue import lookup
from hub.chain.findings import Finding, Severity
from hub.events.ids import derive_id

_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


def case_id_for(coi_id: str, code: str, subject: str) -> str:
    return derive_id("case", coi_id, code, subject)


def apply_findings(
    cases: Mapping[str, Case], findings: Iterable[Finding], detected_at: datetime
) -> list[Case]:
    """The case versions ``findings`` give, against the chain's latest ``cases`` (by id).

    ``detected_at`` is the hub's clock when the finding was made: the receipt time of the
    record that revealed it (or the tick's time), so a replay detects at the same instant.
    The input mapping is not modified; a case found twice in one call gets two versions.
    """
    latest = dict(cases)
    emitted: list[Case] = []
    for finding in findings:
        if finding.withdrawn:
            withdrawn = _withdraw(latest, finding, detected_at)
            if withdrawn is not None:
                latest[withdrawn.case_id] = withdrawn
                emitted.append(withdrawn)
            continue
        entry = lookup(finding.code)
        severity = finding.severity or entry.severity
        case_id = case_id_for(finding.coi_id, finding.code, finding.subject)
        known = latest.get(case_id)
        if known is None:
            evidence = list(dict.fromkeys(finding.evidence_event_ids))
            version, status, opened_at = 1, CaseStatus.OPEN, finding.occurred_at
        else:
            new_evidence = [
                e for e in finding.evidence_event_ids if e not in known.evidence_event_ids
            ]
            raised = _RANK[severity] > _RANK[known.severity]
            if not new_evidence and not raised:
                continue
            severity = severity if raised else known.severity
            evidence = known.evidence_event_ids + list(dict.fromkeys(new_evidence))
            version, status, opened_at = known.version + 1, known.status, known.opened_at
            if status is CaseStatus.WITHDRAWN:  # evidence bears it out again
                status = CaseStatus.OPEN
        case = Case(
            case_id=case_id,
            version=version,
            coi_id=finding.coi_id,
            code=finding.code,
            title=entry.title,
            severity=severity,
            owner_role=entry.owner_role,
            status=status,
            subject=finding.subject,
            summary=finding.summary,
            opened_at=opened_at,
            updated_at=finding.occurred_at,
            detected_at=detected_at,
            evidence_event_ids=evidence,
            playbook=list(entry.playbook),
            assignee=known.assignee if known else None,
            acknowledged_by=known.acknowledged_by if known else None,
            acknowledged_at=known.acknowledged_at if known else None,
            resolved_by=known.resolved_by if known else None,
            resolved_at=known.resolved_at if known else None,
            resolution=known.resolution if known else None,
            signatures=known.signatures if known else [],
        )
        latest[case_id] = case
        emitted.append(case)
    return emitted


WITHDRAWN_BY = "hub:event-time"


def _withdraw(cases: Mapping[str, Case], finding: Finding, at: datetime) -> Case | None:
    """The next version of the case ``finding`` withdraws, or None when there is none open."""
    known = cases.get(case_id_for(finding.coi_id, finding.code, finding.subject))
    if known is None or known.status.closed:
        return None
    new_evidence = [e for e in finding.evidence_event_ids if e not in known.evidence_event_ids]
    return known.model_copy(
        update={
            "version": known.version + 1,
            "status": CaseStatus.WITHDRAWN,
            "updated_at": finding.occurred_at,
            "detected_at": at,
            "evidence_event_ids": known.evidence_event_ids + new_evidence,
            "resolved_by": WITHDRAWN_BY,
            "resolved_at": at,
            "resolution": finding.summary,
        }
    )
