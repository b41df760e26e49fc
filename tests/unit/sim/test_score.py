"""The scorer: precision / recall per code, latency, noisy clean chains, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.cases.models import Case, CaseStatus
from hub.chain.findings import Severity
from hub.sim.faults import Injection
from hub.sim.score import score

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
