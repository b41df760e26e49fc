"""``v2v record``: write partner traffic as a recording for ``v2v replay``.

From Kafka: every record of the deployment's raw topics received in ``[start, end)``, with its
receipt time (the edge's ``v2v.received_at`` header, else the record timestamp, as the worker
judges it), content type and bytes, in receipt order. From files: partner files as they would
reach the raw topic, all received at one given time (in the order given).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from hub.headers import CONTENT_TYPE_HEADER, EXTENSION_TYPES, receipt_time
from hub.replay.lines import message_line
from hub.settings import Settings
from hub.topics import Topics

SEEK_MARGIN = timedelta(hours=1)
"""Seek by record timestamp this much before ``start``: an edge stamps receipt a little before
Kafka stamps the record."""


def record_topics(
    settings: Settings,
    out: TextIO,
    start: datetime | None = None,
    end: datetime | None = None,
    timeout_s: float = 10.0,
) -> int:
    """Write the raw topics' messages received in ``[start, end)``; returns how many."""
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": "v2v-record",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    topics = Topics.of(settings)
    lines: list[tuple[datetime, str, int, int, str]] = []
    try:
        wanted = _partitions(consumer, list(topics.raw.values()), start, timeout_s)
        consumer.assign(wanted)
        open_partitions = {(tp.topic, tp.partition) for tp in wanted}
        while open_partitions:
            msg = consumer.poll(timeout_s)
            if msg is None:
                break  # nothing more within the timeout: the end of what there is
            if msg.error() is not None:
                open_partitions.discard((msg.topic(), msg.partition()))
                continue
            topic, partition, offset = str(msg.topic()), msg.partition() or 0, msg.offset() or 0
            headers = [(str(h[0]), _bytes(h[1])) for h in (msg.headers() or [])]
            received = receipt_time(headers, msg.timestamp()[1])
            if (start and received < start) or (end and received >= end):
                continue
            content_type = dict(headers).get(CONTENT_TYPE_HEADER)
            line = message_line(
                topics.partner_of(topic),
                received,
                content_type.decode("utf-8", "replace") if content_type else None,
                _bytes(msg.value()),
            )
            lines.append((received, topic, partition, offset, line))
    finally:
        consumer.close()
    lines.sort()
    for *_, line in lines:
        out.write(line + "\n")
    return len(lines)


def _bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else value


def _partitions(
    consumer: Consumer, names: list[str], start: datetime | None, timeout_s: float
) -> list[TopicPartition]:
    metadata = consumer.list_topics(timeout=timeout_s).topics
    partitions = [
        TopicPartition(name, p, OFFSET_BEGINNING)
        for name in names
        if name in metadata
        for p in metadata[name].partitions
    ]
    if start is None or not partitions:
        return partitions
    seek_ms = int((start - SEEK_MARGIN).timestamp() * 1000)
    asked = [TopicPartition(tp.topic, tp.partition, seek_ms) for tp in partitions]
    found = consumer.offsets_for_times(asked, timeout=timeout_s)
    # -1: no record at or after that time; OFFSET_END would read nothing, which is right
    return [TopicPartition(tp.topic, tp.partition, tp.offset) for tp in found]


def record_files(partner: str, received_at: datetime, files: Iterable[Path], out: TextIO) -> int:
    """Partner files as recorded messages, all received at ``received_at``."""
    count = 0
    for path in files:
        content_type = EXTENSION_TYPES.get(path.suffix.lower(), "application/octet-stream")
        out.write(
            message_line(partner, received_at.astimezone(UTC), content_type, path.read_bytes())
        )
        out.write("\n")
        count += 1
    return count
