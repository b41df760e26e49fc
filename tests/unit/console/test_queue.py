"""The case queue's logic with an injected clock: the SLA clock against the escalation policy,
the ranking (most severe, then least time left), the filters and the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.cases.escalation import load_policy
from hub.console.queue import (
    Row,
    Where,
    build_queue,
    describe_left,
    matches,
    sla_clock,
    where_of,
)
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-FN-ESCALATION")

POLICY = load_policy(REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml")
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def case(
    cid: str,
    severity: str = "HIGH",
    status: str = "OPEN",
    detected: datetime = T0,
    **more: Any,
) -> dict[str, Any]:
    return {
        "case_id": cid,
        "version": 1,
        "coi_id": more.pop("coi_id", "COI1"),
        "code": more.pop("code", "CUSTOMS_HOLD"),
        "severity": severity,
        "owner_role": more.pop("owner_role", "OPERATIONS"),
        "status": status,
        "detected_at": detected.isoformat(),
        "opened_at": detected.isoformat(),
        **more,
    }


def test_the_clock_runs_to_the_first_levels_wait_then_the_next() -> None:
    # CRITICAL: 15 min at level 1, then 30 min at level 2, then no further wait
    c = case("c1", "CRITICAL")
    first = sla_clock(c, POLICY, T0 + timedelta(minutes=10))
    assert first is not None
    assert (first.due_at, first.level, first.breached) == (T0 + timedelta(minutes=15), 1, False)
    assert describe_left(first.left(T0 + timedelta(minutes=10))) == "5m 00s left"
    second = sla_clock(c, POLICY, T0 + timedelta(minutes=20))
    assert second is not None
    assert (second.due_at, second.level) == (T0 + timedelta(minutes=45), 2)
    done = sla_clock(c, POLICY, T0 + timedelta(hours=3))
    assert done is not None
    assert (done.due_at, done.level, done.breached) == (T0 + timedelta(minutes=45), 2, True)
    assert describe_left(done.left(T0 + timedelta(hours=3))) == "overdue 2h 15m"


def test_no_clock_once_acknowledged_or_without_a_wait() -> None:
    assert sla_clock(case("c1", status="ACKNOWLEDGED"), POLICY, T0) is None
    assert sla_clock(case("c1", status="RESOLVED"), POLICY, T0) is None
    assert sla_clock(case("c1", "LOW"), POLICY, T0) is None  # LOW has no ack_within_min
    assert sla_clock(case("c1", detected_at="not a time"), POLICY, T0) is None


def test_ranked_by_severity_then_time_left_then_age() -> None:
    now = T0 + timedelta(minutes=50)
    cases = [
        case("low", "LOW"),
        case("high-late", "HIGH", detected=T0 - timedelta(hours=2)),  # overdue
        case("high-fresh", "HIGH", detected=T0 + timedelta(minutes=40)),  # 50 min left
        case("high-acked", "HIGH", status="ACKNOWLEDGED"),  # no clock: after clocked ones
        case("crit", "CRITICAL", detected=T0 + timedelta(minutes=45)),
        case("medium", "MEDIUM"),
    ]
    queue = build_queue(cases, {}, POLICY, {}, now)
    assert [r.case_id for r in queue.rows] == [
        "crit", "high-late", "high-fresh", "high-acked", "medium", "low",
    ]  # fmt: skip
    assert queue.counts == {"CRITICAL": 1, "HIGH": 3, "MEDIUM": 1, "LOW": 1}
    assert queue.total == 6


def test_filters_and_counts_of_what_is_shown() -> None:
    where = {
        "a": Where(frozenset({"courier"}), frozenset({"SITE-PHL"})),
        "b": Where(frozenset({"logger"}), frozenset()),
    }
    cases = [
        case("a", "HIGH", code="CUSTOMS_HOLD", owner_role="OPERATIONS"),
        case("b", "CRITICAL", code="TEMP_EXCURSION_FRESH", owner_role="QA"),
        case("c", "HIGH", status="RESOLVED", code="CUSTOMS_HOLD"),
    ]

    def shown(**filters: str) -> list[str]:
        return [r.case_id for r in build_queue(cases, where, POLICY, filters, T0).rows]

    assert shown(code="customs_hold") == ["a", "c"]
    assert shown(severity="CRITICAL") == ["b"]
    assert shown(owner_role="qa") == ["b"]
    assert shown(partner="courier") == ["a"]
    assert shown(site="SITE-PHL") == ["a"]
    assert shown(status="open") == ["b", "a"]
    assert shown(status="RESOLVED") == ["c"]
    assert shown(code="CUSTOMS_HOLD", status="open") == ["a"]
    assert shown(partner="nobody") == []
    queue = build_queue(cases, where, POLICY, {"severity": "HIGH"}, T0)
    assert queue.counts["HIGH"] == 2
    assert queue.counts["CRITICAL"] == 0
    assert queue.choices["partner"] == ["courier", "logger"]
    assert queue.choices["severity"] == ["CRITICAL", "HIGH"]


def test_where_a_case_comes_from_is_its_evidence() -> None:
    timeline = [
        {"event_id": "e1", "partner": "logger", "location": None},
        {"event_id": "e2", "partner": "courier", "location": "SITE-PHL"},
        {"event_id": "e3", "partner": "lims", "location": "SITE-CDMO"},
    ]
    c = case("a", evidence_event_ids=["e1", "e2"])
    assert where_of(c, timeline) == Where(frozenset({"logger", "courier"}), frozenset({"SITE-PHL"}))
    feed = case("f", coi_id="partner:courier", evidence_event_ids=[])
    assert where_of(feed, []).partners == frozenset({"courier"})
    assert matches(Row(c, Where(), None), {"code": ""})  # an empty filter is no filter
