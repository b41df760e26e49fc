"""``v2v demo`` on the real stack: a simulated network with every exception code injected,
through a ``v2v run`` worker with every connector, scored against the ground truth."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hub.audit.files import read_export
from hub.demo import run_demo
from hub.flow import FlowCore
from hub.replay.diff import brief
from hub.replay.run import replay
from hub.sim.arrival import REALISTIC
from hub.sim.faults import ALL, CODES
from hub.sim.offline import run_offline
from hub.sim.scenario import build

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("REQ-FN-DETECTION", "REQ-INV-08", "REQ-INV-02"),
]


PATIENTS, SEED = len(ALL) + 4, 3


@pytest.mark.timeout(900)  # a whole simulated network, then its audit trail exported and verified
def test_the_demo_detects_every_injected_fault_and_nothing_else(hub_settings, tmp_path) -> None:
    path, recording = tmp_path / "report.json", tmp_path / "traffic.jsonl"
    audit = tmp_path / "audit"
    # 30 faulty chains (every code + two malformed messages) and 4 clean ones
    code = run_demo(
        hub_settings, patients=PATIENTS, seed=SEED, report=path, record=recording, audit_out=audit
    )
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
    assert len(report["dead_letters"]) == 2  # two malformed messages
    assert report["chains"]["completed"] == len(ALL) + 4 - 1  # one withdrawn before apheresis
    scenario = build(SEED, PATIENTS, arrival=REALISTIC)  # the demo's default
    offline = run_offline(scenario)  # the same flow core, in memory
    assert report["escalations"] == len(offline.escalations) > len(CODES)  # level 2 too

    # The live worker's traffic, recorded from its raw topics and replayed through the flow
    # core, gives the same cases, versions and statuses.
    live = {c["case_id"]: c for c in report["cases"]["list"]}
    core = FlowCore.from_settings(hub_settings)
    replayed = replay([recording], core, timedelta(hours=1), scenario.horizon)
    assert replayed.bad == []
    again = {c.case_id: brief(c) for c in replayed.hub.latest_cases()}
    assert again == live

    # The demo exported its audit trail and verified it (code 0 says so): one hash chain per
    # chain, as many records as the offline run wrote, each case version on it.
    trail = read_export(audit)
    chains = [r for r in trail.records if not r["chain"].startswith("partner:")]  # feed rows aside
    # Every record but the clock ticks' is on the live trail as the offline run wrote it. A
    # tick's record (a tick that changed a chain) may fall one wave apart live, where ticks go
    # out with the next wave's messages: counted apart, not compared.
    offline_ticks = sum(
        1 for lines in offline.audit_outline.values() for line in lines if " TICK " in line
    )
    live_ticks = sum(1 for r in chains if r["kind"] == "TICK")
    assert len(chains) - live_ticks == offline.audit_records - offline_ticks
    assert {r["chain"] for r in chains} == set(offline.audit_outline)
    on_trail = {r["ref"] for r in chains if r["kind"] == "CASE_VERSION"}
    assert on_trail == {
        f"{c['case_id']}@{v}"
        for c in live.values()
        if not c["coi_id"].startswith("partner:")
        for v in range(1, c["version"] + 1)
    }
    assert trail.checkpoints
