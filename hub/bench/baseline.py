"""The yardstick: a plain confluent-kafka consume -> Avro decode -> produce loop.

It reads the canonical events of the benchmark's messages (normalised offline beforehand, the
same events the hub's chain agent sees) from a topic of their own, decodes every record and
produces it, unchanged, to an output topic: the least a Python stage on this broker does per
event. Timed from the first record received to the last one acknowledged.
Two decoders are timed on the same input: ``avro`` (fastavro to a plain dict, the floor) and
``model`` (the hub's wire format into the validated :class:`Event` model).
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from connectors.base import ConnectorConfig, RawMessage
from connectors.registry import get_connector
from hub.bench.workload import BenchMessage
from hub.errors import DeliveryError
from hub.events.models import Event
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import Settings

EVENTS = SingleObjectWireFormat(codec_for(Event))


@dataclass(frozen=True)
class BaselineRun:
    decoder: str
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def canonical_events(settings: Settings, messages: Iterable[BenchMessage]) -> Iterator[Event]:
    """What the hub makes of ``messages``: the connectors' events, re-keyed to their chain's
    COI as the identity resolver would (a generator: a scale run's events never sit in memory
    all at once)."""
    config = ConnectorConfig(pseudonym_key=settings.pseudonym_secret())
    connectors: dict[str, Any] = {}
    for message in messages:
        connector = connectors.get(message.partner)
        if connector is None:
            connector = connectors[message.partner] = get_connector(message.partner, config)
        raw = RawMessage(message.partner, message.value, message.received_at, message.content_type)
        result = connector.process(raw)
        if result.rejection is not None:
            raise ValueError(f"benchmark message rejected: {result.rejection}")
        for event in result.events:
            if event.coi_id != message.coi_id:
                event = event.model_copy(update={"coi_id": message.coi_id})
            yield event


def create_topics(settings: Settings, names: list[str]) -> None:
    admin = AdminClient(settings.kafka_config())
    futures = admin.create_topics(
        [
            NewTopic(
                n,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
            )
            for n in names
        ],
        operation_timeout=30,
    )
    for future in futures.values():
        future.result()


def produce_events(settings: Settings, topic: str, events: Iterable[Event]) -> int:
    """Write ``events`` keyed by COI; returns how many, once all are acknowledged."""
    producer = Producer({**settings.kafka_config(), "linger.ms": 5, "partitioner": "murmur2"})
    count = 0
    for event in events:
        count += 1
        while True:
            try:
                producer.produce(
                    topic, key=(event.coi_id or "").encode(), value=EVENTS.encode(event)
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60):
        raise DeliveryError(f"{topic}: baseline input not acknowledged")
    return count


def plain_decoder() -> Callable[[bytes], Any]:
    schema = EVENTS.codec.schema

    def decode(value: bytes) -> Any:
        return fastavro.schemaless_reader(io.BytesIO(value[10:]), schema, None)

    return decode


def model_decoder() -> Callable[[bytes], Any]:
    return EVENTS.decode


def run_baseline(
    settings: Settings,
    source: str,
    sink: str,
    expected: int,
    decoder: str,
    timeout_s: float = 300.0,
) -> BaselineRun:
    """Consume ``expected`` records of ``source`` from the beginning, decode each, produce it
    to ``sink``; timed from the first record received to the last one acknowledged."""
    decode = plain_decoder() if decoder == "avro" else model_decoder()
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"v2v-bench-baseline-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    producer = Producer({**settings.kafka_config(), "linger.ms": 5, "acks": "all"})
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    try:
        meta = consumer.list_topics(source, timeout=10).topics[source]
        if meta.error is not None:
            raise KafkaException(meta.error)
        consumer.assign([TopicPartition(source, p, OFFSET_BEGINNING) for p in meta.partitions])
        seen = 0
        began = 0.0
        deadline = time.monotonic() + timeout_s
        while seen < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"baseline read {seen} of {expected} records")
            batch = consumer.consume(num_messages=1000, timeout=0.5)
            if batch and not began:
                began = time.monotonic()
            for msg in batch:
                if msg.error() is not None:
                    continue
                value = msg.value() or b""
                decode(value)
                while True:
                    try:
                        producer.produce(sink, key=msg.key(), value=value, on_delivery=on_delivery)
                        break
                    except BufferError:
                        producer.poll(0.05)
                seen += 1
            producer.poll(0)
        if producer.flush(60) or failed:
            raise DeliveryError(f"baseline: {len(failed)} records not acknowledged")
        return BaselineRun(decoder, seen, time.monotonic() - began)
    finally:
        consumer.close()
