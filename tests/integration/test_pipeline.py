"""The spine end to end: raw courier webhooks -> canonical events -> cases -> escalations,
malformed input -> dead-letter topic, against a real Kafka broker, Redis and hub worker."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from connectors.base import RawMessage
from connectors.conformance import sample_files
from connectors.courier.normalise import CourierConnector
from hub.cases.models import Case, Escalation
from hub.chain.profiles import load_profiles
from hub.deadletter import header_dict
from hub.events.models import Event, EventType
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, TopicReader, WorkerProcess
from hub.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-INV-02")]

EVENTS = SingleObjectWireFormat(codec_for(Event))
CASES = SingleObjectWireFormat(codec_for(Case))
ESCALATIONS = SingleObjectWireFormat(codec_for(Escalation))


def event_time(payload: bytes) -> datetime:
    return datetime.fromisoformat(json.loads(payload)["event_time"]).astimezone(UTC)


def expected_events(payloads: list[bytes]) -> int:
    connector = CourierConnector()
    now = datetime.now(UTC)
    return sum(len(connector.process(RawMessage("courier", p, now)).events) for p in payloads)


def send_in_event_time(feeder: Feeder, topic: str, payloads: list[bytes], **kw) -> None:
    """Each message received a minute after it happened, in event-time order, keyed by its
    message id as the ingress keys it: one chain's messages land on several raw partitions and
    may reach the chain in another order (it re-judges them in event-time order)."""
    timed = sorted((event_time(p), p) for p in payloads)
    for at, payload in timed:
        key = kw.get("key") or json.loads(payload)["message_id"].encode()
        feeder.send(topic, [(key, payload, kw.get("headers"))], at=at + timedelta(minutes=1))


def non_tick(records: list) -> list:
    return [r for r in records if r.key()]


@pytest.mark.req("REQ-FN-CONNECTORS", "REQ-EXC-CUSTOMS_HOLD", "REQ-FN-ESCALATION")
def test_courier_samples_become_events_cases_and_escalations(hub_settings, worker, tokens) -> None:
    topics = Topics.of(hub_settings)
    payloads = [p.read_bytes() for p in sample_files("courier")]
    want = expected_events(payloads)
    # Three days after the last sample on the hub's clock (the receipt times stamped below),
    # whatever today's date: nobody acknowledged the cases, so they go up a level.
    after_samples = max(event_time(p) for p in payloads) + timedelta(days=3)
    ticks = hub_settings.topic_partitions
    with Feeder(hub_settings) as feeder, TopicReader(hub_settings, topics.events) as events:
        send_in_event_time(feeder, topics.raw["courier"], payloads)
        assert events.reach(want, timeout_s=60, keyed=True)
        feeder.ticks(after_samples)
        worker.wait_metric("v2v_events_processed_total", want + ticks)
        worker.wait_metric("v2v_events_processed_total", ticks, event_type="CLOCK_TICK")
    decoded = [EVENTS.decode(r.value()) for r in non_tick(events.records)]
    assert len(decoded) == want
    assert all(r.key() == b"V2VSAMPLE000001T" for r in non_tick(events.records))
    assert {e.event_type for e in decoded} >= {
        EventType.CUSTODY_RELEASED,
        EventType.CUSTODY_ACCEPTED,
        EventType.SHIPMENT_DEPARTED,
        EventType.SHIPMENT_DELIVERED,
        EventType.SHIPMENT_ETA_UPDATED,
    }

    written = int(worker.metric("v2v_case_versions_total"))
    with TopicReader(hub_settings, topics.cases) as cases:
        assert cases.reach(written, timeout_s=60)
    assert cases.count == written >= 2
    opened = [CASES.decode(r.value()) for r in cases.records]
    latest = {c.case_id: c for c in sorted(opened, key=lambda c: c.version)}
    standing = [c for c in latest.values() if not c.status.closed]
    # 05 (held) and 07 (refused) are two shipments; the signed delivery closed SHP-240001's
    # handover, so no CUSTODY_GAP stands (one the order of the raw partitions raised first
    # is withdrawn by the hub)
    assert sorted(c.subject for c in standing if c.code == "CUSTOMS_HOLD") == [
        "SHP-240077",
        "SHP-240078",
    ]
    assert "CUSTODY_GAP" not in {c.code for c in standing}
    owed = int(worker.metric("v2v_escalations_issued_total"))
    with TopicReader(hub_settings, topics.escalations) as escalations:
        assert escalations.reach(owed, timeout_s=30)
    assert escalations.count == owed
    sent = [ESCALATIONS.decode(r.value()) for r in escalations.records]
    # a case the hub withdrew (raised on a delivery order, disproved on re-judging) sends a
    # withdrawal notice to whoever it notified: an escalation record with reason WITHDRAWN
    notices = [e for e in sent if e.reason == "WITHDRAWN"]
    first = [e for e in sent if e.level == 1 and e.reason != "WITHDRAWN"]
    assert sorted(e.case_id for e in first) == sorted(c.case_id for c in opened if c.version == 1)
    withdrawn = {c.case_id for c in latest.values() if c.status.value == "WITHDRAWN"}
    assert {e.case_id for e in notices} == withdrawn & {e.case_id for e in first}
    assert {e.recipient_role for e in first if e.code == "CUSTOMS_HOLD"} == {"operations-on-call"}
    # The tick after the samples lies days past the escalation (hub clock: receipt time):
    # nobody acknowledged the HIGH customs cases within 60 min, so they went up to level 2.
    second = {e.case_id: e for e in sent if e.level == 2}
    for case in opened:
        if case.code == "CUSTOMS_HOLD":
            assert second[case.case_id].recipient_role == "operations-lead"
            assert second[case.case_id].reason == "NOT_ACKNOWLEDGED"

    client = redis.Redis.from_url(hub_settings.redis_url)
    prefix = f"{hub_settings.redis_key_prefix}:{hub_settings.topic_prefix}"
    chain = json.loads(client.get(f"{prefix}:chain:V2VSAMPLE000001T"))
    open_ids = {m.decode() for m in client.smembers(f"{prefix}:cases:open")}
    client.close()
    assert chain["holder"] == "Philadelphia Cell Therapy Facility"  # signed for SHP-240001
    assert chain["event_count"] == want
    assert open_ids == {c.case_id for c in standing}  # none resolved yet

    auditor = tokens.headers("au-alex", "auditor")
    page = httpx.get(f"{worker.url}/chains/V2VSAMPLE000001T", headers=auditor, timeout=5).json()
    assert page["coi_id"] == "V2VSAMPLE000001T"
    listed = httpx.get(f"{worker.url}/cases", headers=auditor, timeout=5).json()["cases"]
    assert {c["case_id"] for c in listed} == open_ids


@pytest.mark.req("REQ-EXC-CUSTODY_GAP")
def test_unaccepted_handover_raises_custody_gap_only_after_turnaround_and_grace(
    hub_settings, worker
) -> None:
    topics = Topics.of(hub_settings)
    pickup = json.loads(sample_files("courier")[0].read_bytes())  # 01-pickup, lane BOS-PHL-FRESH
    released = datetime.fromisoformat(pickup["event_time"]).astimezone(UTC)
    profile = load_profiles(hub_settings.profile_dir)["default"]
    # judged once an acceptance dated in time can no longer arrive: + the allowed lateness
    window = profile.turnaround(pickup["lane"]) + profile.custody_grace
    judged = window + profile.allowed_lateness
    ticks = hub_settings.topic_partitions
    with Feeder(hub_settings) as feeder:
        send_in_event_time(feeder, topics.raw["courier"], [json.dumps(pickup).encode()])
        worker.wait_metric("v2v_events_processed_total", 2)
        # a tick a minute inside the lane turnaround + grace raises nothing ...
        feeder.ticks(released + judged - timedelta(minutes=1))
        worker.wait_metric("v2v_events_processed_total", ticks, event_type="CLOCK_TICK")
        assert worker.metric("v2v_case_versions_total", code="CUSTODY_GAP") == 0
        # ... one at its end raises the gap.
        feeder.ticks(released + judged)
        worker.wait_metric("v2v_events_processed_total", 2 * ticks, event_type="CLOCK_TICK")
    assert worker.metric("v2v_case_versions_total", code="CUSTODY_GAP") == 1
    # (the courier, silent that long on the hub's clock, also has a PARTNER_FEED_SILENT case)
    with TopicReader(hub_settings, topics.cases) as cases:
        assert cases.reach(int(worker.metric("v2v_case_versions_total")), timeout_s=30)
    decoded = [CASES.decode(r.value()) for r in cases.records]
    [case] = [c for c in decoded if c.coi_id == "V2VSAMPLE000001T"]
    assert (case.code, case.subject, case.severity.value) == ("CUSTODY_GAP", "SHP-240001", "HIGH")
    assert case.opened_at == released + window


@pytest.mark.req("REQ-INV-01", "REQ-ALCOA-ORIGINAL")
def test_malformed_messages_are_dead_lettered_with_original_bytes_and_counts_reconcile(
    hub_settings, worker
) -> None:
    topics = Topics.of(hub_settings)
    good = [p.read_bytes() for p in sample_files("courier")[:3]]
    bad = {p.name: p.read_bytes() for p in sample_files("courier", "bad")}
    bad["binary"] = bytes(range(256))
    headers = [("traceparent", b"00-abc-def-01")]
    with Feeder(hub_settings) as feeder, TopicReader(hub_settings, topics.dlq) as dlq:
        feeder.send(topics.raw["courier"], [(b"k", p, headers) for p in [*good, *bad.values()]])
        worker.wait_metric("v2v_raw_messages_total", len(good) + len(bad), partner="courier")
        assert dlq.reach(len(bad), timeout_s=60)
    assert worker.metric("v2v_dead_letters_total") == len(bad) == len(dlq.records)
    by_value = {r.value(): header_dict(r.headers()) for r in dlq.records}
    assert set(by_value) == set(bad.values())  # original bytes, untouched
    for record in dlq.records:
        h = header_dict(record.headers())
        assert h["__connect.errors.topic"] == topics.raw["courier"]
        assert h["__connect.errors.partition"].isdigit()
        assert h["__connect.errors.offset"].isdigit()
        assert h["__connect.errors.stage"] == "normalise"
        assert h["traceparent"] == "00-abc-def-01"
        assert record.key() == b"k"
    assert by_value[bad["no-timezone.json"]]["v2v.errors.code"] == "TIMEZONE_MISSING"
    assert by_value[bad["bad-coi-check.json"]]["v2v.errors.code"] == "INVALID_IDENTIFIER"
    assert by_value[bad["unknown-code.json"]]["v2v.errors.field"] == "status_code"
    assert by_value[bad["binary"]]["v2v.errors.code"] == "NOT_UTF8"

    text = httpx.get(f"{worker.url}/metrics", timeout=5).text

    def metric(name: str) -> float:
        pattern = rf'^{name}\{{[^}}]*partner="courier"[^}}]*\}} ([0-9.e+]+)$'
        return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))

    raw_in = metric("v2v_raw_messages_total")
    assert raw_in == len(good) + len(bad)
    assert metric("v2v_raw_accepted_total") == len(good)
    assert metric("v2v_raw_rejected_total") == len(bad)
    assert raw_in == metric("v2v_raw_accepted_total") + metric("v2v_raw_rejected_total")


@pytest.mark.req("REQ-P11-PROTECT", "REQ-A11-STORAGE", "REQ-A11-CONTINUITY")
def test_deadlines_survive_a_worker_restart(hub_settings, worker, tmp_path) -> None:
    topics = Topics.of(hub_settings)
    pickup = sample_files("courier")[0].read_bytes()
    released = datetime.fromisoformat(json.loads(pickup)["event_time"]).astimezone(UTC)
    with Feeder(hub_settings) as feeder, TopicReader(hub_settings, topics.cases) as cases:
        send_in_event_time(feeder, topics.raw["courier"], [pickup])
        worker.wait_metric("v2v_events_processed_total", 2)  # the release is on the chain
        assert worker.metric("v2v_chains_by_stage") == 1
        assert worker.stop() is not None
        restarted = WorkerProcess(hub_settings, tmp_path / "worker2.log").start()
        try:
            restarted.wait_ready()
            feeder.ticks(released + timedelta(days=3))
            restarted.wait_metric(
                "v2v_events_processed_total", hub_settings.topic_partitions, event_type="CLOCK_TICK"
            )
            # the chain's deadline, and the courier's silence: what the first worker heard
            # from it is in the feed's row, so the restarted one judges it too
            wanted = {"CUSTODY_GAP", "DIN_UNLINKED", "PARTNER_FEED_SILENT"}
            assert cases.poll_until(lambda rs: wanted <= codes_of(rs), 60), restarted.tail()
            # the chain recovered from the changelog counts in the stage gauge, once
            text = httpx.get(f"{restarted.url}/metrics", timeout=5).text
            stages = re.findall(r'^v2v_chains_by_stage\{stage="([^"]+)"\} (\S+)$', text, re.M)
            assert {stage: float(n) for stage, n in stages if float(n)} == {
                "IN_TRANSIT_TO_MANUFACTURING": 1.0
            }
            assert all(float(n) >= 0 for _, n in stages)
        finally:
            restarted.stop()
    assert codes_of(cases.records) == wanted


def codes_of(records: list) -> set[str]:
    return {CASES.decode(r.value()).code for r in records}


@pytest.mark.req("REQ-INV-04", "REQ-EXC-CUSTODY_GAP")
def test_samples_delivered_unkeyed_out_of_order_end_with_the_cases_of_event_time(
    hub_settings, worker
) -> None:
    """The courier samples, each received a minute after it happened (on time), keyed by
    nothing and spread over the raw partitions, reach the chain in this order: the pick-up,
    the next day's customs records (the hub's clock passes the handover's deadline: a custody
    gap as far as the hub knows), then the signed delivery that happened before them and the
    rest. The worker re-judges the chain in event-time order: the gap is withdrawn by the hub,
    its notified roles told, and the customs cases are untouched, as in the in-memory hub."""
    topics = Topics.of(hub_settings)
    by_name = {p.name[:2]: p.read_bytes() for p in sample_files("courier")}
    order = [by_name[k] for k in ("01", "05", "06", "07", "08", "02", "03", "04", "09")]
    after_samples = max(event_time(p) for p in order) + timedelta(days=3)
    partitions, ticks = hub_settings.topic_partitions, hub_settings.topic_partitions
    sent = 0
    with Feeder(hub_settings) as feeder:
        for i, payload in enumerate(order):  # each on the chain before the next: this order
            at = event_time(payload) + timedelta(minutes=1)
            feeder.send(topics.raw["courier"], [(None, payload, None)], i % partitions, at)
            sent += expected_events([payload])
            worker.wait_metric("v2v_events_processed_total", sent)
        feeder.ticks(after_samples)
        worker.wait_metric("v2v_events_processed_total", ticks, event_type="CLOCK_TICK")
    written = int(worker.metric("v2v_case_versions_total"))
    with TopicReader(hub_settings, topics.cases) as cases:
        assert cases.reach(written, timeout_s=60)
    versions = [CASES.decode(r.value()) for r in cases.records]
    chain = [c for c in versions if c.coi_id == "V2VSAMPLE000001T"]
    latest = {c.case_id: c for c in sorted(chain, key=lambda c: c.version)}
    standing = {(c.code, c.subject) for c in latest.values() if c.status.value != "WITHDRAWN"}
    assert standing == {
        ("CUSTOMS_HOLD", "SHP-240077"),
        ("CUSTOMS_HOLD", "SHP-240078"),
        ("DIN_UNLINKED", "=A99991712345600"),
    }
    gaps = sorted((c for c in chain if c.code == "CUSTODY_GAP"), key=lambda c: c.version)
    assert [(c.version, c.status.value) for c in gaps] == [(1, "OPEN"), (2, "WITHDRAWN")]
    assert gaps[-1].resolved_by == "hub:event-time"
    assert sorted(c.version for c in chain if c.code == "CUSTOMS_HOLD") == [1, 1]
    owed = int(worker.metric("v2v_escalations_issued_total"))
    with TopicReader(hub_settings, topics.escalations) as escalations:
        assert escalations.reach(owed, timeout_s=30)
    notices = [ESCALATIONS.decode(r.value()) for r in escalations.records]
    about_gap = [e for e in notices if e.case_id == gaps[-1].case_id]
    assert about_gap[-1].reason == "WITHDRAWN"
    assert sorted(e.level for e in notices if e.code == "CUSTOMS_HOLD" and e.level == 1) == [1, 1]
