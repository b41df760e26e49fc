"""The scorer: precision / recall per code, latency, noisy clean chains, dead letters."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hub.cases.models import Case, CaseStatus
from hub.chain.findings import Severity
from hub.sim.faults import Injection
from hub.sim.report import render_withdrawn, withdrawn_summary
from hub.sim.score import open_on_clean, score, withdrawals

T = datetime(2025, 2, 3, 12, 0, tzinfo=UTC)


def _case(coi: str, code: str, after_h: float = 0.0, subject: str = "s") -> Case:
    at = T + timedelta(hours=after_h)
    return Case(
        case_id=f"{coi}-{code}-{subject}", version=1, coi_id=coi, code=code, title=code,
        severity=Severity.HIGH, owner_role="ops", status=CaseStatus.OPEN, subject=subject,
        summary="-", opened_at=at, updated_at=at, detected_at=at,
    )  # fmt: skip


TRUTH = [
    Injection("A", "CUSTODY_GAP", ("CUSTODY_GAP",), T, "-"),
    Injection("B", "CUSTODY_GAP", ("CUSTODY_GAP",), T, "-"),
    Injection("C", "clean", (), T, "-"),
    Injection("D", "MALFORMED_WEBHOOK", (), T, "-", ("courier:NOT_JSON",)),
]


def test_a_perfect_run() -> None:
    cases = [
        _case("A", "CUSTODY_GAP", 5),
        _case("A", "CUSTODY_GAP", 7, "t"),
        _case("B", "CUSTODY_GAP", 3),
    ]
    result = score(TRUTH, cases, ["courier:NOT_JSON"])
    (row,) = result.codes
    assert (row.injected, row.detected, row.raised) == (2, 2, 2)
    assert row.precision == row.recall == 1.0
    assert row.latency_h == (3.0, 5.0)
    assert row.median_latency_h == 4.0
    assert result.ok
    assert result.clean_chains == 2


def test_misses_false_alarms_and_noisy_clean_chains() -> None:
    cases = [_case("A", "CUSTODY_GAP"), _case("C", "LATE_EVENT"), _case("A", "LATE_EVENT")]
    result = score(TRUTH, cases, [])
    rows = {r.code: r for r in result.codes}
    assert rows["CUSTODY_GAP"].recall == 0.5
    assert rows["CUSTODY_GAP"].precision == 1.0
    assert rows["LATE_EVENT"].precision == 0.0
    assert rows["LATE_EVENT"].recall is None
    assert result.missed == (("B", "CUSTODY_GAP"),)
    assert result.unexpected == (("A", "LATE_EVENT"), ("C", "LATE_EVENT"))
    assert result.noisy_clean == ("C",)
    assert not result.dead_ok
    assert not result.ok


def _withdrawn(case: Case, after_h: float, severity: Severity = Severity.HIGH) -> Case:
    at = case.detected_at + timedelta(hours=after_h)
    return case.model_copy(
        update={
            "version": 2, "status": CaseStatus.WITHDRAWN, "severity": severity,
            "resolved_by": "hub:event-time", "resolved_at": at, "detected_at": at,
        }
    )  # fmt: skip


def test_withdrawn_cases_do_not_count_as_raised() -> None:
    cases = [
        _withdrawn(_case("A", "CUSTODY_GAP", 1), 2),
        _case("B", "CUSTODY_GAP", 3),
        _withdrawn(_case("C", "OUT_OF_SEQUENCE", 1), 0.5, Severity.CRITICAL),
    ]
    result = score(TRUTH, cases, ["courier:NOT_JSON"])
    rows = {r.code: r for r in result.codes}
    assert (rows["CUSTODY_GAP"].detected, rows["CUSTODY_GAP"].raised) == (1, 1)
    assert "OUT_OF_SEQUENCE" not in rows
    assert result.missed == (("A", "CUSTODY_GAP"),)
    assert result.noisy_clean == ()
    assert open_on_clean(TRUTH, cases) == Counter()


def test_withdrawals_say_how_long_each_stayed_open() -> None:
    gap = _case("A", "CUSTODY_GAP", 1)
    sequence = _case("C", "OUT_OF_SEQUENCE", 1)
    cases = [_withdrawn(gap, 2), _withdrawn(sequence, 0.5, Severity.CRITICAL), _case("C", "X")]
    found = withdrawals(TRUTH, cases, {gap.case_id: gap.detected_at})
    assert [(w.code, w.clean, w.open_h, w.since) for w in found] == [
        ("CUSTODY_GAP", False, 2.0, "detected_at v1"),
        ("OUT_OF_SEQUENCE", True, 0.5, "opened_at"),
    ]
    summary = withdrawn_summary(found)
    assert summary["by_code"]["OUT_OF_SEQUENCE"]["clean"] == {
        "count": 1, "open_h": {"median": 0.5, "max": 0.5},
    }  # fmt: skip
    assert summary["critical_on_clean"][0]["code"] == "OUT_OF_SEQUENCE"
    assert open_on_clean(TRUTH, cases) == Counter({"X": 1})
    text = "\n".join(render_withdrawn(summary))
    assert "CRITICAL withdrawn on clean chain C: OUT_OF_SEQUENCE" in text
