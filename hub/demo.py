"""``v2v demo``: courier stories through the real stack, in fast-forwarded simulated time.

Four stories: a clean shipment, one whose delivery is never signed for (CUSTODY_GAP), one held
by customs (CUSTOMS_HOLD) and one malformed webhook (dead-lettered). Messages are fed hour by
hour of simulated time; after each hour the demo waits until the hub has normalised what it fed,
then sends that hour's CLOCK_TICKs, so absence-of-event rules see exactly what a live hub would.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from connectors.base import RawMessage
from connectors.registry import get_connector
from hub.cases.models import Case, Escalation
from hub.events.identifiers import mod37_2
from hub.runtime.deadletter import header_dict
from hub.runtime.harness import Feeder, TopicReader, WorkerProcess, free_port
from hub.runtime.topics import Topics, ensure_topics
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import REPO_ROOT, Settings

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOURS = 24


def coi(n: int) -> str:
    body = f"V2VDEMO{n:08d}"
    return body + mod37_2(body)


@dataclass(frozen=True)
class Story:
    name: str
    coi_id: str
    messages: list[tuple[datetime, bytes]]
    expect: tuple[str, ...]


def _webhook(mid: str, at: datetime, chain: str, shipment: str, lane: str, **extra: Any) -> bytes:
    body = {
        "message_id": mid,
        "event_time": at.isoformat(),
        "shipment_id": shipment,
        "carrier": "CryoExpress",
        "lane": lane,
        "coi": chain,
        **extra,
    }
    return json.dumps(body).encode()


def _shipment(n: int, lane: str, origin: str, dest: str, *, signed: bool, hold: bool) -> Story:
    chain, ship = coi(n), f"SHP-DEMO-{n}"
    t = START + timedelta(minutes=15 * n)
    msgs = [
        (
            t,
            _webhook(
                f"D{n}-1",
                t,
                chain,
                ship,
                lane,
                status_code="13",
                custody={
                    "from": origin,
                    "to": dest,
                    "released_by": "nurse-01",
                    "identity_scanned": True,
                },
            ),
        ),
        (
            t + timedelta(hours=1),
            _webhook(f"D{n}-2", t + timedelta(hours=1), chain, ship, lane, status_code="24"),
        ),
    ]
    if hold:
        msgs += [
            (
                t + timedelta(hours=3),
                _webhook(
                    f"D{n}-3",
                    t + timedelta(hours=3),
                    chain,
                    ship,
                    lane,
                    status_code="20",
                    customs_hold=True,
                    reason="import permit under review",
                ),
            ),
            (
                t + timedelta(hours=5),
                _webhook(f"D{n}-4", t + timedelta(hours=5), chain, ship, lane, status_code="12"),
            ),
        ]
    delivered = t + timedelta(hours=6)
    extra: dict[str, Any] = {"status_code": "21", "custody": {"to": dest}}
    if signed:
        extra["signature"] = {"name": "receiver-07", "identity_scanned": True}
    msgs.append((delivered, _webhook(f"D{n}-9", delivered, chain, ship, lane, **extra)))
    expect = ("CUSTOMS_HOLD",) if hold else () if signed else ("CUSTODY_GAP",)
    name = "customs hold" if hold else "clean shipment" if signed else "unsigned delivery"
    return Story(name, chain, msgs, expect)


def stories() -> list[Story]:
    bos, phl, ams = "Boston Apheresis Centre", "Philadelphia Cell Therapy Facility", "Amsterdam UMC"
    malformed_at = START + timedelta(hours=2)
    bad = json.dumps(
        {
            "message_id": "D4-1",
            "status_code": "24",
            "shipment_id": "SHP-DEMO-4",
            "carrier": "CryoExpress",
            "coi": coi(4),
            "event_time": "2026-03-02T10:00:00",
        }
    ).encode()  # no UTC offset
    return [
        _shipment(1, "BOS-PHL-FRESH", bos, phl, signed=True, hold=False),
        _shipment(2, "BOS-PHL-FRESH", bos, phl, signed=False, hold=False),
        _shipment(3, "PHL-AMS-CRYO", phl, ams, signed=True, hold=True),
        Story("malformed webhook", coi(4), [(malformed_at, bad)], ()),
    ]


def run_demo(settings: Settings, verbose: bool = False) -> int:
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    demo = settings.model_copy(
        update={
            "topic_prefix": f"v2vdemo.{run}",
            "app_id": f"v2v-demo-{run}",
            "tick_interval_s": 0.0,
            "web_port": free_port(),
            "partners": ["courier"],
        }
    )
    topics = Topics.of(demo)
    began = time.monotonic()
    print(
        f"v2v demo: topics {demo.topic_prefix}.*, "
        f"Kafka {demo.kafka_bootstrap_servers}, Redis {demo.redis_url}"
    )
    ensure_topics(demo)
    worker = WorkerProcess(demo, REPO_ROOT / ".local" / "logs" / f"demo-{run}.log").start()
    try:
        worker.wait_ready()
        print(f"worker ready after {time.monotonic() - began:.1f}s (log: {worker.log_path})")
        return _feed_and_report(demo, topics, verbose, began)
    finally:
        worker.stop()


def _feed_and_report(demo: Settings, topics: Topics, verbose: bool, began: float) -> int:
    connector = get_connector("courier")
    all_stories = stories()
    feed = sorted((at, msg) for s in all_stories for at, msg in s.messages)
    expected_events = 0
    with (
        Feeder(demo) as feeder,
        TopicReader(demo, topics.events) as events,
        TopicReader(demo, topics.cases) as cases,
        TopicReader(demo, topics.escalations) as escalations,
        TopicReader(demo, topics.dlq) as dlq,
    ):
        for hour in range(1, HOURS + 1):
            now = START + timedelta(hours=hour)
            batch = [(at, msg) for at, msg in feed if now - timedelta(hours=1) <= at < now]
            for at, msg in batch:
                expected_events += len(connector.process(RawMessage("courier", msg, now)).events)
                # received a minute after it happened, in simulated time
                feeder.send(
                    topics.raw["courier"],
                    [(None, msg, [("content-type", b"application/json")])],
                    at=at + timedelta(minutes=1),
                )
            if batch and not events.poll_until(_count_at_least(expected_events), timeout_s=60):
                print(f"hub did not normalise the hour {hour} messages in time")
                return 1
            feeder.ticks(topics.events, now)
        want_cases = sum(len(s.expect) for s in all_stories)
        cases.poll_until(lambda rs: len(rs) >= want_cases, timeout_s=60)
        escalations.poll_until(lambda rs: len(rs) >= want_cases, timeout_s=30)
        dlq.poll_until(lambda rs: len(rs) >= 1, timeout_s=30)
        for reader in (cases, escalations, dlq):
            reader.drain(quiet_s=1.5)
        return _report(
            demo, all_stories, cases.records, escalations.records, dlq.records, verbose, began
        )


def _count_at_least(n: int) -> Callable[[list[Any]], bool]:
    """Predicate: at least ``n`` non-tick events (ticks are the only records with an empty key)."""
    return lambda records: sum(1 for r in records if r.key()) >= n


def _report(
    demo: Settings,
    all_stories: list[Story],
    case_records: list[Any],
    esc_records: list[Any],
    dlq_records: list[Any],
    verbose: bool,
    began: float,
) -> int:
    case_wire = SingleObjectWireFormat(codec_for(Case))
    esc_wire = SingleObjectWireFormat(codec_for(Escalation))
    latest: dict[str, Case] = {}
    for record in case_records:
        case = case_wire.decode(record.value())
        if case.case_id not in latest or latest[case.case_id].version < case.version:
            latest[case.case_id] = case
    escalations = [esc_wire.decode(r.value()) for r in esc_records]
    client = redis.Redis.from_url(demo.redis_url)
    prefix = f"{demo.redis_key_prefix}:{demo.topic_prefix}"
    ok = True
    print(f"\n{'CHAIN':<18} {'STORY':<18} {'STAGE':<28} {'HOLDER':<36} CASES")
    for story in all_stories:
        raw = client.get(f"{prefix}:chain:{story.coi_id}")
        summary = json.loads(raw) if raw else {}
        codes = sorted(c.code for c in latest.values() if c.coi_id == story.coi_id)
        good = codes == sorted(story.expect)
        ok &= good
        print(
            f"{story.coi_id:<18} {story.name:<18} {summary.get('stage', '-'):<28} "
            f"{(summary.get('holder') or '-'):<36} {', '.join(codes) or 'none'}"
            f"{'' if good else '   <-- expected ' + (', '.join(story.expect) or 'none')}"
        )
    client.close()
    print(f"\ncases raised: {len(latest)} ({dict(Counter(c.code for c in latest.values()))})")
    for case in sorted(latest.values(), key=lambda c: c.code):
        print(f"  [{case.severity.value}] {case.code} on {case.coi_id}: {case.summary}")
    print(f"escalations: {len(escalations)}")
    for esc in escalations:
        print(
            f"  level {esc.level} -> {esc.recipient_role} via {esc.channel}: "
            f"{esc.code} on {esc.coi_id}"
        )
    print(f"dead-lettered: {len(dlq_records)}")
    for record in dlq_records:
        h = header_dict(record.headers())
        print(
            f"  {h.get('__connect.errors.topic')}@{h.get('__connect.errors.partition')}:"
            f"{h.get('__connect.errors.offset')} [{h.get('v2v.errors.code')}] "
            f"{h.get('__connect.errors.exception.message')}"
        )
    if verbose:
        for case in latest.values():
            print(case.model_dump_json(indent=2))
    ok &= len(dlq_records) == 1 and len(escalations) == len(latest)
    print(
        f"\ndemo {'passed' if ok else 'FAILED'} in {time.monotonic() - began:.1f}s "
        f"({HOURS} simulated hours)"
    )
    return 0 if ok else 1
