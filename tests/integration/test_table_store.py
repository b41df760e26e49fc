"""The chain table on disk (``V2V_TABLE_STORE=rocksdb``): a stopped worker leaves its chains and
each partition's changelog offset in RocksDB, so its restart reads only what was written since,
and it goes on with the chains where it left them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from rocksdict import AccessType, Options, Rdict

from connectors.conformance import sample_files
from hub.settings import Settings
from hub.sim.stack import Feeder, WorkerProcess
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-A11-CONTINUITY")]

COI = "V2VSAMPLE000001T"
OFFSET_KEY = b"__faust\0offset__"


def courier_records() -> list[tuple[datetime, bytes]]:
    """The courier samples with their event times, in event-time order."""
    samples = [p.read_bytes() for p in sample_files("courier")]
    timed = [
        (datetime.fromisoformat(json.loads(s)["event_time"]).astimezone(UTC), s) for s in samples
    ]
    return sorted(timed)


def feed(settings: Settings, records: list[tuple[datetime, bytes]]) -> None:
    raw = Topics.of(settings).raw["courier"]
    with Feeder(settings) as feeder:
        for at, payload in records:
            feeder.send(raw, [(COI.encode(), payload, None)], at=at + timedelta(minutes=1))


def settle(worker: WorkerProcess, accepted: int) -> None:
    """Every accepted message's events applied to the chain (counters, not time)."""
    worker.wait_metric("v2v_raw_accepted_total", accepted, timeout_s=120)
    worker.wait_metric("v2v_events_processed_total", worker.metric("v2v_events_out_total"))


def chain_rows(data_dir: Path) -> dict[str, tuple[dict[str, Any], int]]:
    """COI -> (row, persisted changelog offset) of each chain-table partition on disk."""
    found = {}
    for path in sorted(data_dir.rglob("*chains*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            offset = int(db[OFFSET_KEY]) if OFFSET_KEY in db else -1
            for key, value in db.items():
                name = None if key == OFFSET_KEY else json.loads(key)  # keys are JSON strings
                if name is not None and " " not in name:  # a chain's row, not a pending record
                    found[name] = (json.loads(value), offset)
        finally:
            db.close()
    return found


def records_held(row: dict[str, Any]) -> int:
    """Events the chain applied plus those it holds pending (judged after allowed lateness)."""
    state = row["state"]
    return int(state["event_count"]) + len(state["pending_ids"])


def changelog_end(settings: Settings) -> dict[int, int]:
    topic = f"{settings.app_id}-chains-changelog"
    consumer = Consumer({**settings.kafka_config(), "group.id": "table-store-test"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] - 1
            for p in range(settings.topic_partitions)
        }
    finally:
        consumer.close()


def test_a_restarted_worker_goes_on_from_its_rocksdb_table(hub_settings, tmp_path, tokens) -> None:
    settings = hub_settings.model_copy(update={"table_store": "rocksdb"})
    ensure_topics(settings)
    records = courier_records()
    first = WorkerProcess(settings, tmp_path / "first.log").start()
    try:
        first.wait_ready()
        feed(settings, records[:-1])
        settle(first, len(records) - 1)
    finally:
        assert first.stop() == 0

    rows = chain_rows(settings.data_dir)
    row, offset = rows[COI]
    ends = changelog_end(settings)
    assert offset >= 0  # the partition's changelog offset is kept beside its rows
    assert offset in ends.values()  # and it is the end: a restart re-reads nothing
    held = records_held(row)
    assert held >= len(records) - 1

    second = WorkerProcess(settings, tmp_path / "second.log").start()
    try:
        second.wait_ready()
        feed(settings, records[-1:])
        settle(second, 1)
        chain = httpx.get(
            f"{second.url}/chains/{COI}", headers=tokens.headers("au-alex", "auditor"), timeout=5
        )
        assert chain.status_code == 200
    finally:
        second.stop()
    row, _ = chain_rows(settings.data_dir)[COI]
    assert records_held(row) > held  # the same chain, grown: not a new one started empty
