"""Case lifecycle (findings -> versions), commands and re-escalation: all pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.cases.commands import (
    CaseAction,
    CaseCommand,
    CommandApplied,
    CommandError,
    CommandRejected,
    apply_command,
)
from hub.cases.escalation import escalations_for, load_policy, reescalations_due
from hub.cases.lifecycle import apply_findings, case_id_for
from hub.cases.models import Case, CaseStatus
from hub.chain.findings import Finding, Severity
from hub.events.ids import derive_id

pytestmark = pytest.mark.req("REQ-FN-CASES")

T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
POLICY = load_policy(
    Path(__file__).resolve().parents[3] / "hub" / "cases" / "escalation_policy.yaml"
)


def _finding(evidence: list[str], severity: Severity | None = None, at: datetime = T) -> Finding:
    return Finding(
        code="RELEASE_EVIDENCE_INCOMPLETE",
        coi_id="COI1",
        subject="certification",
        occurred_at=at,
        summary="missing evidence",
        evidence_event_ids=evidence,
        severity=severity,
    )


def _case(**changes: object) -> Case:
    (case,) = apply_findings({}, [_finding(["e1"], Severity.CRITICAL)], T)
    return case.model_copy(update=changes)


def _command(action: CaseAction, minutes: int = 5, **fields: str) -> CaseCommand:
    return CaseCommand(
        command_id=f"cmd-{action.value}-{minutes}",
        case_id=_case().case_id,
        action=action,
        actor="alice",
        at=T + timedelta(minutes=minutes),
        **fields,  # type: ignore[arg-type]
    )


# --- lifecycle ------------------------------------------------------------------------------


@pytest.mark.req("REQ-P11-AUDIT")
def test_new_evidence_or_a_raised_severity_makes_a_new_version() -> None:
    (v1,) = apply_findings({}, [_finding(["e1"])], T)
    assert (v1.version, v1.severity, v1.status) == (1, Severity.HIGH, CaseStatus.OPEN)
    assert v1.case_id == case_id_for("COI1", "RELEASE_EVIDENCE_INCOMPLETE", "certification")
    cases = {v1.case_id: v1}
    assert apply_findings(cases, [_finding(["e1"], at=T + timedelta(hours=1))], T) == []
    (v2,) = apply_findings(cases, [_finding(["e1"], Severity.CRITICAL)], T)
    assert (v2.version, v2.severity) == (2, Severity.CRITICAL)
    cases[v2.case_id] = v2
    (v3,) = apply_findings(cases, [_finding(["e2"], at=T + timedelta(hours=2))], T)
    assert (v3.version, v3.severity) == (3, Severity.CRITICAL)  # never lowered
    assert v3.evidence_event_ids == ["e1", "e2"]
    assert v3.opened_at == T  # kept from version 1
    assert v3.updated_at == T + timedelta(hours=2)


def test_two_findings_of_one_case_in_one_call_make_two_versions() -> None:
    v1, v2 = apply_findings({}, [_finding(["e1"]), _finding(["e2"])], T)
    assert (v1.version, v2.version) == (1, 2)
    assert v2.evidence_event_ids == ["e1", "e2"]


@pytest.mark.req("REQ-P11-AUDIT")
def test_a_new_version_keeps_what_commands_changed() -> None:
    (v1,) = apply_findings({}, [_finding(["e1"])], T)
    applied = apply_command(v1, _command(CaseAction.ACKNOWLEDGE))
    assert isinstance(applied, CommandApplied)
    (v3,) = apply_findings({v1.case_id: applied.case}, [_finding(["e2"])], T)
    assert v3.version == 3
    assert v3.status is CaseStatus.ACKNOWLEDGED
    assert v3.acknowledged_by == "alice"


# --- commands -------------------------------------------------------------------------------


@pytest.mark.req("REQ-P11-AUDIT", "REQ-ALCOA-ATTRIBUTABLE")
def test_acknowledge_then_resolve() -> None:
    acked = apply_command(_case(), _command(CaseAction.ACKNOWLEDGE))
    assert isinstance(acked, CommandApplied)
    assert acked.case.status is CaseStatus.ACKNOWLEDGED
    assert (acked.case.version, acked.case.acknowledged_by) == (2, "alice")
    assert acked.case.acknowledged_at == T + timedelta(minutes=5)
    resolved = apply_command(acked.case, _command(CaseAction.RESOLVE, 30, reason="QP decision"))
    assert isinstance(resolved, CommandApplied)
    assert resolved.case.status is CaseStatus.RESOLVED
    assert (resolved.case.resolved_by, resolved.case.resolution) == ("alice", "QP decision")
    assert resolved.note.case_version == 3
    assert resolved.note.reason == "QP decision"


@pytest.mark.parametrize(
    ("status", "action", "error"),
    [
        (CaseStatus.RESOLVED, CaseAction.RESOLVE, CommandError.ALREADY_RESOLVED),
        (CaseStatus.RESOLVED, CaseAction.ACKNOWLEDGE, CommandError.CASE_RESOLVED),
        (CaseStatus.RESOLVED, CaseAction.ASSIGN, CommandError.CASE_RESOLVED),
        (CaseStatus.ACKNOWLEDGED, CaseAction.ACKNOWLEDGE, CommandError.ALREADY_ACKNOWLEDGED),
    ],
)
@pytest.mark.req("REQ-P11-AUDIT")
def test_invalid_transitions_are_rejected_as_values(
    status: CaseStatus, action: CaseAction, error: CommandError
) -> None:
    case = _case(status=status, resolved_by="bob", resolved_at=T, acknowledged_by="bob")
    result = apply_command(case, _command(action, reason="why", assignee="carol"))
    assert isinstance(result, CommandRejected)
    assert result.error is error
    assert result.case_id == case.case_id


@pytest.mark.req("REQ-P11-AUDIT", "REQ-ALCOA-ATTRIBUTABLE")
def test_commands_need_who_and_why() -> None:
    case = _case()
    ack = _command(CaseAction.ACKNOWLEDGE)
    missing = [
        (_command(CaseAction.RESOLVE), CommandError.MISSING_REASON),
        (_command(CaseAction.COMMENT, reason="  "), CommandError.MISSING_REASON),
        (_command(CaseAction.ASSIGN), CommandError.MISSING_ASSIGNEE),
        (ack.model_copy(update={"actor": " "}), CommandError.MISSING_ACTOR),
        (ack.model_copy(update={"case_id": "x"}), CommandError.WRONG_CASE),
        (_command(CaseAction.ACKNOWLEDGE, minutes=-5), CommandError.BEFORE_CASE_OPENED),
    ]
    for command, error in missing:
        result = apply_command(case, command)
        assert isinstance(result, CommandRejected)
        assert result.error is error


def test_assign_and_comment_make_versions_and_comment_works_on_resolved_cases() -> None:
    assigned = apply_command(_case(), _command(CaseAction.ASSIGN, assignee="carol"))
    assert isinstance(assigned, CommandApplied)
    assert (assigned.case.assignee, assigned.note.assignee) == ("carol", "carol")
    resolved = _case(status=CaseStatus.RESOLVED, version=4)
    commented = apply_command(resolved, _command(CaseAction.COMMENT, reason="filed in BMR"))
    assert isinstance(commented, CommandApplied)
    assert (commented.case.version, commented.case.status) == (5, CaseStatus.RESOLVED)
    assert commented.note.reason == "filed in BMR"
    assert apply_command(resolved, _command(CaseAction.COMMENT, reason="filed in BMR")) == commented


# --- escalation -----------------------------------------------------------------------------


@pytest.mark.req("REQ-FN-ESCALATION", "REQ-INV-06")
def test_first_escalation_and_re_escalation_share_deterministic_ids() -> None:
    case = _case()
    (first,) = escalations_for(case, POLICY)
    assert (first.level, first.recipient_role) == (1, "qa-on-call")
    assert reescalations_due(case, 1, T, T + timedelta(minutes=14), POLICY) == []
    (second,) = reescalations_due(case, 1, T, T + timedelta(minutes=15), POLICY)
    assert (second.level, second.recipient_role) == (2, "qualified-person")
    assert second.escalation_id == derive_id("escalation", case.case_id, 2)
    assert second.issued_at == T + timedelta(minutes=15)
    again = reescalations_due(case, 1, T, T + timedelta(minutes=20), POLICY)
    assert again == [second]  # a restart recomputes the same escalation


@pytest.mark.req("REQ-FN-ESCALATION")
def test_several_levels_fall_due_after_an_outage_and_the_last_level_stops() -> None:
    owed = reescalations_due(_case(), 1, T, T + timedelta(hours=5), POLICY)
    assert [(e.level, e.issued_at) for e in owed] == [
        (2, T + timedelta(minutes=15)),
        (3, T + timedelta(minutes=45)),
    ]
    assert reescalations_due(_case(), 3, T, T + timedelta(days=3), POLICY) == []


@pytest.mark.parametrize("status", [CaseStatus.ACKNOWLEDGED, CaseStatus.RESOLVED])
@pytest.mark.req("REQ-FN-ESCALATION")
def test_acknowledged_or_resolved_cases_are_never_re_escalated(status: CaseStatus) -> None:
    assert reescalations_due(_case(status=status), 1, T, T + timedelta(days=1), POLICY) == []


@pytest.mark.req("REQ-FN-ESCALATION")
def test_low_severity_has_a_single_level() -> None:
    low = _case(severity=Severity.LOW)
    assert reescalations_due(low, 1, T, T + timedelta(days=1), POLICY) == []
