"""Partner feed health through the real worker, Kafka and Redis: the courier goes silent beyond
its freshness SLA on the hub's clock (clock ticks on the events topic), the worker raises
PARTNER_FEED_SILENT on the feed's key, listing the chain at risk exactly as the in-memory hub
does for the same records; the per-partner metrics show on /metrics; a person acknowledges the
case over HTTP; the hub resolves it when the courier speaks again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.cases.models import Case, CaseStatus
from hub.flow import FlowCore
from hub.flow.memory import MemoryHub
from hub.partners.health import HUB_ACTOR
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, TopicReader
from hub.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-EXC-PARTNER_FEED_SILENT")]

CASES = SingleObjectWireFormat(codec_for(Case))
KEY = "partner:courier"
SILENT = "PARTNER_FEED_SILENT"


def sample(name: str) -> bytes:
    [path] = [p for p in sample_files("courier") if p.name.startswith(name)]
    return path.read_bytes()


def feed_versions(records: list) -> list[Case]:
    decoded = (CASES.decode(r.value()) for r in records)
    return [c for c in decoded if c.coi_id == KEY and c.code == SILENT]


def test_a_silent_partner_raises_its_feed_case_through_the_worker_and_recovers(
    hub_settings, worker, tokens
) -> None:
    topics = Topics.of(hub_settings)
    core = FlowCore.from_settings(hub_settings, ["courier"])
    sla = core.feeds["courier"].freshness_sla
    assert sla is not None
    pickup, departed = sample("01"), sample("02")
    t0 = datetime.fromisoformat(json.loads(pickup)["event_time"]).astimezone(UTC)
    t0 += timedelta(minutes=1)
    offline = MemoryHub(core)  # the same records through the same flow core, in memory
    events = len(core.ingest(RawMessage("courier", pickup, t0)).events)
    partitions = hub_settings.topic_partitions

    with Feeder(hub_settings) as feeder, TopicReader(hub_settings, topics.cases) as cases:
        feeder.send(topics.raw["courier"], [(b"V2VSAMPLE000001T", pickup, None)], at=t0)
        offline.deliver(RawMessage("courier", pickup, t0, "application/json"))
        worker.wait_metric("v2v_events_processed_total", events)
        seen = worker.wait_metric(
            "v2v_feed_last_seen_timestamp_seconds", t0.timestamp(), partner="courier"
        )
        assert seen == t0.timestamp()

        # exactly its SLA after the last message: on time
        feeder.ticks(t0 + sla)
        offline.tick(t0 + sla)
        worker.wait_metric("v2v_events_processed_total", partitions, event_type="CLOCK_TICK")
        assert worker.metric("v2v_feed_silent", partner="courier") == 0
        assert worker.metric("v2v_cases_opened_total", code=SILENT) == 0

        # a minute later: silent
        silent_at = t0 + sla + timedelta(minutes=1)
        feeder.ticks(silent_at)
        offline.tick(silent_at)
        worker.wait_metric("v2v_events_processed_total", 2 * partitions, event_type="CLOCK_TICK")
        assert cases.poll_until(lambda rs: len(feed_versions(rs)) >= 1, 60), worker.tail()
        [case] = feed_versions(cases.records)
        [expected] = [c for c in offline.latest_cases() if c.code == SILENT]
        assert (case.case_id, case.version, case.status) == (expected.case_id, 1, CaseStatus.OPEN)
        assert (case.severity.value, case.owner_role) == ("HIGH", "integration ops")
        assert (case.opened_at, case.detected_at) == (t0 + sla, silent_at)
        assert case.summary == expected.summary
        assert "1 chain(s) depend on it in the next 72 h" in case.summary
        assert "V2VSAMPLE000001T (" in case.summary

        text = httpx.get(f"{worker.url}/metrics", timeout=5).text
        assert 'v2v_feed_last_seen_timestamp_seconds{partner="courier"}' in text
        assert 'v2v_feed_dead_letter_rate{partner="courier"}' in text
        assert worker.metric("v2v_feed_last_seen_timestamp_seconds", partner="courier") == (
            t0.timestamp()
        )
        assert worker.metric("v2v_feed_silent", partner="courier") == 1
        assert worker.metric("v2v_feed_dead_letter_rate", partner="courier") == 0
        assert worker.metric("v2v_cases_opened_total", code=SILENT, severity="HIGH") == 1

        # the case desk, commands and read model take it like a chain's case
        ina = tokens.headers("ops-ina", "integration")
        answer = httpx.post(f"{worker.url}/cases/{case.case_id}/ack", headers=ina, timeout=10)
        assert answer.status_code == 202, answer.text
        assert cases.poll_until(lambda rs: len(feed_versions(rs)) >= 2, 60), worker.tail()
        acked = feed_versions(cases.records)[1]
        assert (acked.version, acked.status, acked.acknowledged_by) == (
            2,
            CaseStatus.ACKNOWLEDGED,
            "ops-ina",
        )
        row = httpx.get(f"{worker.url}/chains/{KEY}", headers=ina, timeout=5).json()
        assert row["feed_health"]["last_seen"] == t0.isoformat()
        assert row["feed_health"]["silent"]["at_risk"][0]["coi_id"] == "V2VSAMPLE000001T"

        # the courier speaks again: the hub resolves the case at the next tick
        back = silent_at + timedelta(minutes=30)
        feeder.send(topics.raw["courier"], [(b"V2VSAMPLE000001T", departed, None)], at=back)
        worker.wait_metric(
            "v2v_feed_last_seen_timestamp_seconds", back.timestamp(), partner="courier"
        )
        feeder.ticks(back + timedelta(minutes=1))
        assert cases.poll_until(lambda rs: len(feed_versions(rs)) >= 3, 60), worker.tail()
    resolved = feed_versions(cases.records)[2]
    assert (resolved.version, resolved.status, resolved.resolved_by) == (
        3,
        CaseStatus.RESOLVED,
        HUB_ACTOR,
    )
    assert back.isoformat() in (resolved.resolution or "")
    worker.wait_metric("v2v_events_processed_total", 3 * partitions, event_type="CLOCK_TICK")
    assert worker.metric("v2v_feed_silent", partner="courier") == 0
    assert worker.metric("v2v_feed_records_total", kind="heard") == 2  # one per raw message


def test_the_feed_row_lives_on_the_partition_its_commands_are_produced_to(
    hub_settings, worker, tokens
) -> None:
    """The row's changelog records and the commands on its cases share one partition: the
    one Kafka's default partitioner gives the key, so a restarted or second worker that owns
    the commands owns the row too."""
    topics = Topics.of(hub_settings)
    core = FlowCore.from_settings(hub_settings, ["courier"])
    sla = core.feeds["courier"].freshness_sla
    assert sla is not None
    pickup = sample("01")
    t0 = datetime.fromisoformat(json.loads(pickup)["event_time"]).astimezone(UTC)
    with Feeder(hub_settings) as feeder, TopicReader(hub_settings, topics.cases) as cases:
        feeder.send(topics.raw["courier"], [(b"V2VSAMPLE000001T", pickup, None)], at=t0)
        worker.wait_metric("v2v_feed_last_seen_timestamp_seconds", t0.timestamp())
        feeder.ticks(t0 + sla + timedelta(minutes=1))
        assert cases.poll_until(lambda rs: len(feed_versions(rs)) >= 1, 60), worker.tail()
        [case] = feed_versions(cases.records)
        ina = tokens.headers("ops-ina", "integration")
        answer = httpx.post(f"{worker.url}/cases/{case.case_id}/ack", headers=ina, timeout=10)
        assert answer.status_code == 202, answer.text
        assert cases.poll_until(lambda rs: len(feed_versions(rs)) >= 2, 60), worker.tail()
    with TopicReader(hub_settings, topics.commands) as commands:
        assert commands.read_all()
    [command] = commands.records
    assert command.key() == KEY.encode()
    changelog = f"{hub_settings.app_id}-chains-changelog"
    with TopicReader(hub_settings, changelog) as rows:
        assert rows.read_all()
    homes = {r.partition() for r in rows.records if KEY.encode() in (r.key() or b"")}
    assert homes == {command.partition()}
