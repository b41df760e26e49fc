"""The audit trail through a real worker, Kafka broker and Redis: a chain with a critical case
and a person's acknowledgement, exported and verified; a tampered export fails; a restarted
worker continues every chain's hash chain; the audit topics keep everything forever."""

from __future__ import annotations

import json
import secrets as secrets_module
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from hub.audit import keys
from hub.audit.cli import verify_trail
from hub.audit.files import read_export
from hub.audit.topic import export, read_trail
from hub.cases.commands import CaseAction, CaseCommand
from hub.cli import main
from hub.events.models import Event, EventType
from hub.flow import FlowCore
from hub.flow.core import tick_event
from hub.flow.memory import MemoryHub
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import Settings, missing_secrets
from hub.sim.stack import Feeder, WorkerProcess, settings_env
from hub.topics import Topics, ensure_topics, topic_config
from tests.scenarios.builders import Story

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("REQ-P11-AUDIT-CHAIN", "REQ-P11-RECONSTRUCT"),
]

EVENTS = SingleObjectWireFormat(codec_for(Event))


@pytest.fixture
def audited(hub_settings: Settings, tmp_path: Path) -> Settings:
    """A production-mode hub: its checkpoint key is a file given to it, never generated, and
    every other secret set (tokens from the test's identity provider, published as a file)."""
    key = tmp_path / "signing-key.pem"
    keys.generate(key)
    secrets = {
        "pseudonym_key": SecretStr(secrets_module.token_hex(16)),
        "signature_key": SecretStr(secrets_module.token_hex(32)),
        "auth_issuer": hub_settings.token_issuer(),
        "auth_jwks_file": hub_settings.jwks_source(),
    }
    settings = hub_settings.model_copy(
        update={
            "env": "prod",
            "audit_signing_key_file": key,
            "audit_checkpoint_interval_s": 3600,
            **secrets,
        }
    )
    assert missing_secrets(settings) == []
    ensure_topics(settings)
    return settings


def stories() -> list[Story]:
    clean = Story("cart-fresh-48h", 21).clean()
    oos = Story("cart-fresh-48h", 22)
    oos.phase_order()
    oos.qc("VIABILITY", oos.t.qc_start, value=41.0)  # specification: >= 80 %: a critical case
    return [clean, oos]


class Both:
    """Feeds the worker and, in the same order, an in-memory hub on the same flow core: the
    records the worker must write are the ones the in-memory hub writes."""

    def __init__(self, settings: Settings, feeder: Feeder) -> None:
        self.settings, self.feeder = settings, feeder
        self.topics = Topics.of(settings)
        self.mirror = MemoryHub(FlowCore.from_settings(settings))
        self.events = self.ticks = 0

    def event(self, event: Event) -> None:
        assert event.coi_id
        self.feeder.send(self.topics.events, [(event.coi_id.encode(), EVENTS.encode(event), None)])
        self.mirror.inject(event, route=False)
        self.events += 1

    def tick(self, at: object) -> None:
        self.feeder.ticks(at)  # type: ignore[arg-type]
        self.mirror.tick(at, 0, tick_event(at, 0, "simulated"))  # type: ignore[arg-type]
        self.ticks += self.settings.topic_partitions

    def stream(self, events: list[Event]) -> None:
        for event in events:
            if event.event_type is EventType.CLOCK_TICK:
                self.tick(event.occurred_at)
            else:
                self.event(event)


def wait_attested(settings: Settings, records: int, timeout_s: float = 60.0) -> None:
    """Until the topics hold ``records`` audit records, every one under a signed checkpoint."""
    public = keys.load_private(settings.audit_key_path).public_key()
    deadline = time.monotonic() + timeout_s
    while True:
        verdict = verify_trail(read_trail(settings), public)
        if verdict.records >= records and verdict.attested >= records:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{verdict.summary()} {verdict.problems[:3]}")
        time.sleep(0.5)


def test_the_worker_trail_verifies_survives_a_restart_and_tampering_fails(
    audited: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tokens: Any,
) -> None:  # fmt: skip
    settings, topics = audited, Topics.of(audited)
    for name in (topics.audit, topics.audit_checkpoints, topics.audit_config):
        config = topic_config(settings, name)
        assert (config["cleanup.policy"], config["retention.ms"], config["retention.bytes"]) == (
            "delete",
            "-1",
            "-1",
        )
    clean, oos = stories()
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        worker.wait_ready()
        with Feeder(settings) as feeder:
            both = Both(settings, feeder)
            merged = [*clean.stream(every=timedelta(hours=6)), *oos.events]
            both.stream(sorted(merged, key=lambda e: e.recorded_at))
            worker.wait_metric("v2v_events_processed_total", both.events + both.ticks, 90)
            case = next(c for c in both.mirror.cases.values() if c.code == "QC_OUT_OF_SPEC")
            anna = tokens.headers("qp-anna", "qualified-person", name="Anna Berg")
            page = f"{worker.url}/cases/{case.case_id}"
            deadline = time.monotonic() + 30  # the read model has the case: it can be acked
            while (seen := httpx.get(page, headers=anna, timeout=5)).status_code != 200:
                assert time.monotonic() < deadline, worker.tail()
                time.sleep(0.2)
            answer = httpx.post(  # a CRITICAL case: her acknowledgement is an e-signature
                f"{page}/ack",
                json={"reason": "investigating", "version": seen.json()["version"]},
                headers=anna,
                timeout=10,
            )
            assert answer.status_code == 202, answer.text
            worker.wait_metric("v2v_commands_processed_total", 1)
            at = case.opened_at + timedelta(hours=1)
            both.mirror.command(oos.coi, CaseCommand(command_id="c", case_id=case.case_id,
                                action=CaseAction.ACKNOWLEDGE, actor="qp-anna", at=at))  # fmt: skip
            last = max(e.recorded_at for e in [*clean.events, *oos.events])
            both.tick(last + timedelta(days=3))  # a new checkpoint interval: the ack attested
            expected = len(both.mirror.audit)
            worker.wait_metric("v2v_audit_records_total", expected, 60)
            wait_attested(settings, expected)
    finally:
        worker.stop()

    out = tmp_path / "export"
    trail, size = export(settings, out)
    assert size > 0
    assert len(trail.records) == expected
    assert {r["chain"] for r in trail.records} == {clean.coi, oos.coi}
    config_records = len(trail.config)
    assert config_records > 0  # every configuration file, recorded at the first start
    acked = [r for r in trail.records if r["kind"] == "CASE_COMMAND"]
    assert [(r["actor"], r["action"], r["reason"]) for r in acked] == [
        ("qp-anna", "ACKNOWLEDGE", "investigating")
    ]
    pinned = tmp_path / "trusted.pem"
    pinned.write_text(keys.public_pem(keys.load_private(settings.audit_key_path).public_key()))
    assert main(["audit", "verify", str(out), "--public-key", str(pinned)]) == 0
    assert "VERIFIED" in capsys.readouterr().out

    # the worker's own records, altered in the export: verification fails
    path = out / "records.jsonl"
    good = path.read_text()
    rows = [json.loads(line) for line in good.splitlines()]
    victim = next(r for r in rows if r["chain"] == oos.coi and r["kind"] == "CASE_VERSION")
    victim["body"]["severity"] = "LOW"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["audit", "verify", str(out), "--public-key", str(pinned), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any(p.startswith(f"altered: record {oos.coi}#") for p in problems), problems
    # and the last record of a chain cut off: the signed checkpoint says it existed
    path.write_text("".join(line + "\n" for line in good.splitlines()[:-1]))
    assert main(["audit", "verify", str(out), "--public-key", str(pinned)]) == 1
    assert "truncated" in capsys.readouterr().out

    # a restarted worker: no configuration change to record, every chain goes on where it was
    worker = WorkerProcess(settings, tmp_path / "worker-2.log").start()
    try:
        worker.wait_ready()
        with Feeder(settings) as feeder:
            more = oos.qc("STERILITY", oos.t.qc_start + timedelta(hours=2), text="negative")
            feeder.send(topics.events, [(oos.coi.encode(), EVENTS.encode(more), None)])
            worker.wait_metric("v2v_events_processed_total", 1)
            worker.wait_metric("v2v_audit_records_total", 1)
    finally:
        worker.stop()
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    assert main(["audit", "verify", "--live", "--public-key", str(pinned)]) == 0
    capsys.readouterr()
    again = tmp_path / "export-2"
    assert main(["audit", "export", "--out", str(again)]) == 0
    after = read_export(again)
    assert len(after.config) == config_records
    chain = [r for r in after.records if r["chain"] == oos.coi]
    assert [r["seq"] for r in chain] == list(range(1, len(chain) + 1))
    assert chain[-1]["ref"] == more.event_id

    # the chain as the hub knew it before and after the QC result, from the live topics
    qc = next(r for r in chain if r["action"] == "QC_RESULT_RECORDED")
    for as_of, open_case in ((qc["at"], True), (chain[0]["at"], False)):
        report = tmp_path / f"report-{open_case}"
        code = main(["audit", "reconstruct", "--coi", oos.coi, "--as-of", as_of, "--live",
                     "--public-key", str(pinned), "--out", str(report)])  # fmt: skip
        printed = capsys.readouterr().out
        assert code == 0, printed
        assert ("QC_OUT_OF_SPEC (OPEN)" in printed) is open_case, printed
        assert len(list(report.glob("*.pdf"))) == 1
