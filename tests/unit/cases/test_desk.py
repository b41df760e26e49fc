"""The case desk: escalation levels, re-escalation on ticks, commands applied once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.cases.commands import CaseAction, CaseCommand, CommandApplied, CommandRejected
from hub.cases.desk import CaseDesk, command, receive_cases, tick
from hub.cases.escalation import load_policy
from hub.cases.models import Case, CaseStatus
from hub.chain.findings import Severity
from hub.settings import Settings

pytestmark = pytest.mark.req("REQ-FN-ESCALATION", "REQ-FN-CASES")

POLICY = load_policy(Settings().escalation_policy_file)
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def case(version: int = 1, severity: Severity = Severity.CRITICAL) -> Case:
    return Case(
        case_id="case-1", version=version, coi_id="COI", code="QC_OUT_OF_SPEC", title="OOS",
        severity=severity, owner_role="QA", status=CaseStatus.OPEN, subject="VIABILITY",
        summary="viability 41 %", opened_at=T0, updated_at=T0, detected_at=T0,
    )  # fmt: skip


def ack(command_id: str = "c1", at: datetime = T0 + timedelta(minutes=5)) -> CaseCommand:
    return CaseCommand(
        command_id=command_id, case_id="case-1", action=CaseAction.ACKNOWLEDGE, actor="qp", at=at
    )


def test_new_case_escalates_to_level_one_once() -> None:
    desk, owed = receive_cases(CaseDesk(), [case()], POLICY)
    assert [(e.level, e.recipient_role) for e in owed] == [(1, "qa-on-call")]
    again, owed_again = receive_cases(desk, [case()], POLICY)
    assert owed_again == []
    assert again == desk


def test_ticks_re_escalate_an_unacknowledged_case_level_by_level() -> None:
    desk, _ = receive_cases(CaseDesk(), [case()], POLICY)
    assert desk.next_due(POLICY) == T0 + timedelta(minutes=15)
    same, none = tick(desk, T0 + timedelta(minutes=14), POLICY)
    assert none == []
    assert same is desk
    desk, owed = tick(desk, T0 + timedelta(minutes=15), POLICY)
    assert [(e.level, e.recipient_role, e.reason) for e in owed] == [
        (2, "qualified-person", "NOT_ACKNOWLEDGED")
    ]
    desk, owed = tick(desk, T0 + timedelta(hours=2), POLICY)
    assert [e.level for e in owed] == [3]
    assert desk.next_due(POLICY) is None  # the last level has no further wait


def test_acknowledgement_stops_re_escalation_and_applies_once() -> None:
    desk, _ = receive_cases(CaseDesk(), [case()], POLICY)
    desk, result = command(desk, ack())
    assert isinstance(result, CommandApplied)
    assert (result.case.status, result.case.version) == (CaseStatus.ACKNOWLEDGED, 2)
    assert desk.next_due(POLICY) is None
    assert tick(desk, T0 + timedelta(hours=5), POLICY)[1] == []
    replay, nothing = command(desk, ack())
    assert nothing is None
    assert replay == desk
    _, rejected = command(desk, ack("c2"))
    assert isinstance(rejected, CommandRejected)
    assert rejected.error == "ALREADY_ACKNOWLEDGED"


def test_command_for_an_unknown_case_changes_nothing() -> None:
    desk, result = command(CaseDesk(), ack())
    assert result is None
    assert desk == CaseDesk()


def test_a_withdrawn_case_tells_every_level_notified_and_goes_no_higher() -> None:
    desk, _ = receive_cases(CaseDesk(), [case()], POLICY)
    desk, up = tick(desk, T0 + timedelta(minutes=16), POLICY)  # level 2: the QP
    assert [e.level for e in up] == [2]
    withdrawn = case(version=2).model_copy(
        update={
            "status": CaseStatus.WITHDRAWN,
            "resolved_by": "hub:event-time",
            "resolved_at": T0 + timedelta(minutes=20),
            "resolution": "withdrawn: the reading judged in order does not bear it out",
        }
    )
    desk, notices = receive_cases(desk, [withdrawn], POLICY)
    assert [(n.level, n.recipient_role, n.reason) for n in notices] == [
        (1, "qa-on-call", "WITHDRAWN"),
        (2, "qualified-person", "WITHDRAWN"),
    ]
    assert all(n.issued_at == T0 + timedelta(minutes=20) for n in notices)
    assert len({n.escalation_id for n in notices} | {e.escalation_id for e in up}) == 3
    assert desk.next_due(POLICY) is None
    _, later = tick(desk, T0 + timedelta(hours=5), POLICY)
    assert later == []  # no level 3 for a withdrawn case
    _, again = receive_cases(desk, [withdrawn], POLICY)
    assert again == []  # a replayed version notifies nobody twice
