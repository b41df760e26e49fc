"""What the pages say without colour, and how a case page waits for the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.console.chainview import CaseHistory
from hub.console.pages import TRAIL_RETRIES, case_body, clock_tag, esc, severity_badge
from hub.console.queue import SlaClock
from tests.unit.auth.cases import case_of

pytestmark = pytest.mark.req("REQ-FN-CASES")

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_severity_and_overdue_are_words_and_shapes_not_only_colour() -> None:
    assert "◆</span> CRITICAL" in severity_badge("CRITICAL")
    assert "○</span> LOW" in severity_badge("LOW")
    late = clock_tag(SlaClock(NOW - timedelta(minutes=90), 2, breached=True), NOW)
    assert 'class="sla overdue"' in late
    assert "overdue 1h 30m" in late
    assert "(level 2)" in late
    assert "no acknowledgement clock" in clock_tag(None, NOW)


def test_a_case_page_asks_the_trail_again_a_bounded_number_of_times() -> None:
    case = {**case_of("CUSTOMS_HOLD").model_dump(mode="json"), "title": "<script>x</script>"}
    empty = CaseHistory([], [], [])
    first = case_body(case, None, empty, None, NOW)
    assert "/body?retry=1" in first
    assert "<script>x" not in first  # every value is escaped
    assert esc("<script>x</script>") in first
    assert "hx-get" not in case_body(case, None, empty, None, NOW, retry=TRAIL_RETRIES)
    assert "hx-get" not in case_body(case, None, None, None, NOW)  # no trail at all: no wait
