"""A record the worker writes and Kafka refuses is never lost in silence: the worker logs and
counts it, stops before it commits the raw message that caused it, and, restarted once Kafka
takes such records again, writes what it owed. The refusal is a real broker's: the feeds
topic's ``max.message.bytes`` set below the size of a heard note."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType

from connectors.conformance import sample_files
from hub.settings import Settings
from hub.sim.stack import Feeder, TopicReader, WorkerProcess, group_offsets
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-INV-01")]


def _max_message_bytes(settings: Settings, topic: str, value: str | None) -> None:
    """Set the topic's ``max.message.bytes`` (None: back to the broker's default)."""
    op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    entry = ConfigEntry("max.message.bytes", value or "", incremental_operation=op)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    admin = AdminClient(settings.kafka_config())
    for future in admin.incremental_alter_configs([resource], request_timeout=30).values():
        future.result()


def test_a_record_kafka_refuses_stops_the_worker_before_it_commits_its_input(
    hub_settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(hub_settings)
    topics = Topics.of(hub_settings)
    [path] = [p for p in sample_files("courier") if p.name.startswith("01")]
    pickup = path.read_bytes()
    at = datetime.fromisoformat(json.loads(pickup)["event_time"]).astimezone(UTC)
    at += timedelta(minutes=1)
    _max_message_bytes(hub_settings, topics.feeds, "64")  # a heard note is larger

    first = WorkerProcess(hub_settings, tmp_path / "worker-1.log").start()
    try:
        first.wait_ready()
        with Feeder(hub_settings) as feeder:
            feeder.send(topics.raw["courier"], [(b"V2VSAMPLE000001T", pickup, None)], at=at)
        assert first.process is not None
        code = first.process.wait(60)  # stops by itself: no commit after the refused record
    finally:
        first.stop()
    log = first.tail(400)
    assert code != 0, log
    assert f"Kafka refused a record the worker wrote to {topics.feeds}" in log, log
    assert "MessageSizeTooLarge" in log, log
    offsets = group_offsets(hub_settings, [topics.raw["courier"]])
    assert all(committed < 1 for _, _, committed, _ in offsets)

    _max_message_bytes(hub_settings, topics.feeds, None)
    second = WorkerProcess(hub_settings, tmp_path / "worker-2.log")
    with (
        second.running(),
        TopicReader(hub_settings, topics.feeds) as notes,
        TopicReader(hub_settings, topics.events) as events,
    ):
        # the raw message read again: its heard note and its events written this time
        assert notes.reach(1, 60, keyed=True), second.tail()
        assert events.reach(1, 60, keyed=True), second.tail()
        note = json.loads(notes.records[0].value())
        assert note["source"].startswith(f"{topics.raw['courier']}:")
        assert note["offset"] == 0
        second.wait_metric("v2v_events_processed_total", 1)
        assert second.metric("v2v_produce_errors_total") == 0
