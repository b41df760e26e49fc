"""The run report: the same dict (JSON) and text for the offline and the live runner."""

from __future__ import annotations

import json

from hub.sim.faults import CODES
from hub.sim.offline import Outcome
from hub.sim.report import build_report, from_outcome, render_text
from hub.sim.scenario import Scenario


def test_the_report_of_the_demo_network(full: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = full
    report, result = build_report(scenario, from_outcome(outcome, 1.0))
    assert result.ok
    assert report["passed"]
    assert report["chains"]["completed"] == 49  # one patient was withdrawn before apheresis
    v2v = report["chains"]["v2v_days"]
    assert 20 < v2v["median"] <= v2v["p90"] <= v2v["max"] <= 40
    assert {row["code"] for row in report["scores"]} == set(CODES)
    assert all(row["precision"] == row["recall"] == 1.0 for row in report["scores"])
    assert report["escalations"] == len(outcome.escalations) > len(CODES)  # re-escalations too
    assert len(report["dead_letters"]) == 2  # two malformed messages
    assert report["dead_letters_ok"]
    json.dumps(report)
    text = render_text(report)
    assert "offline run PASSED" in text
    assert "PATIENT_STATUS_CHANGE" in text


def test_the_report_of_a_realistic_arrival(realistic: tuple[Scenario, Outcome]) -> None:
    """Today's engine judges on arrival, so late feeds raise false cases: the report shows
    them (and the records beyond lateness raise exactly their LATE_EVENT)."""
    scenario, outcome = realistic
    report, _ = build_report(scenario, from_outcome(outcome, 1.0))
    assert report["arrival"] == "realistic"
    rows = {row["code"]: row for row in report["scores"]}
    assert rows["LATE_EVENT"]["precision"] == rows["LATE_EVENT"]["recall"] == 1.0
    assert rows["LATE_EVENT"]["injected"] == 1 + len(scenario.overdue)
    assert set(report["open_on_clean_chains"]) <= {r["code"] for r in report["scores"]}
    json.dumps(report)
    text = render_text(report)
    assert "(realistic arrival)" in text
    assert "raised and later withdrawn:" in text
