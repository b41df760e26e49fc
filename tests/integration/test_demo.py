"""``v2v demo`` on the real stack: a simulated network with every exception code injected,
through a ``v2v run`` worker with every connector, scored against the ground truth."""

from __future__ import annotations

import json

import pytest

from hub.demo import run_demo
from hub.sim.faults import ALL, CODES

pytestmark = pytest.mark.integration


def test_the_demo_detects_every_injected_fault_and_nothing_else(hub_settings, tmp_path) -> None:
    path = tmp_path / "report.json"
    # 30 faulty chains (every code + two malformed messages) and 4 clean ones
    code = run_demo(hub_settings, patients=len(ALL) + 4, seed=3, report=path)
    report = json.loads(path.read_text())
    assert code == 0, json.dumps(report, indent=1)[:4000]
    assert report["passed"]
    assert report["mode"] == "live"
    assert {row["code"] for row in report["scores"]} == set(CODES)
    for row in report["scores"]:
        assert row["precision"] == 1.0, row
        assert row["recall"] == 1.0, row
    assert report["clean_chains_with_cases"] == []
    assert report["dead_letters_ok"]
    assert len(report["dead_letters"]) == 3  # two malformed messages, one naive timestamp
    assert report["escalations"] == len(CODES)
    assert report["chains"]["completed"] == len(ALL) + 4 - 1  # one withdrawn before apheresis
