"""The audit topics on Kafka: the configuration records a starting worker writes, and reading
the whole trail back (``v2v audit export``, ``verify --live``, ``reconstruct --live``).

Records are JSON (the record's own JSON form, :meth:`AuditRecord.as_json`): they are hashed over
their canonical JSON, and a reader needs nothing but a JSON parser to verify them.

* ``<prefix>.audit``              chain records, keyed by chain (COI)
* ``<prefix>.audit.checkpoints``  signed checkpoints, one partition
* ``<prefix>.audit.config``       the configuration chain (``hub:config``), one partition
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from hub.audit.configfiles import changes, known, snapshot
from hub.audit.files import Trail, write_export
from hub.audit.keys import load_private, public_pem
from hub.audit.records import AuditHead, AuditRecord
from hub.canonical import canonical_json
from hub.errors import DeliveryError
from hub.settings import Settings
from hub.topics import Topics

Json = dict[str, Any]


def encode(record: AuditRecord) -> bytes:
    return canonical_json(record.as_json())


def read_topic(
    settings: Settings, topic: str, keys: set[bytes] | None = None, timeout_s: float = 30.0
) -> Iterator[tuple[bytes | None, bytes]]:
    """Every record of ``topic`` up to its end at the time of the call, partition by partition
    in offset order (``keys``: only those keys): (key, value)."""
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": "v2v-audit-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            return
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout_s)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
            while True:
                msg = consumer.poll(timeout_s)
                if msg is None:
                    raise DeliveryError(f"{topic}[{p}]: no record within {timeout_s}s")
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        break
                    raise DeliveryError(f"{topic}[{p}]: {err}")
                if keys is None or msg.key() in keys:
                    yield msg.key(), msg.value() or b""
                if (msg.offset() or 0) + 1 >= high:
                    break
    finally:
        consumer.close()


def _parse(values: Iterator[tuple[bytes | None, bytes]], where: str, bad: list[str]) -> list[Json]:
    out = []
    for n, (_key, value) in enumerate(values, 1):
        try:
            data = json.loads(value)
        except ValueError:
            bad.append(f"{where} record {n} is not JSON")
            continue
        if isinstance(data, dict):
            out.append(data)
        else:
            bad.append(f"{where} record {n} is not a JSON object")
    return out


def read_trail(settings: Settings, coi: str | None = None) -> Trail:
    """The deployment's whole trail (or one chain's records with every checkpoint)."""
    topics = Topics.of(settings)
    manifest = {
        "topics": [topics.audit, topics.audit_checkpoints, topics.audit_config],
        "coi": coi,
        "exported_at": datetime.now(UTC).isoformat(),
    }
    keys = {coi.encode()} if coi else None
    bad: list[str] = []
    return Trail(
        records=_parse(read_topic(settings, topics.audit, keys), topics.audit, bad),
        checkpoints=_parse(
            read_topic(settings, topics.audit_checkpoints), topics.audit_checkpoints, bad
        ),
        config=_parse(read_topic(settings, topics.audit_config), topics.audit_config, bad),
        bad_lines=bad,
        manifest=manifest,
    )


def record_configuration(settings: Settings, now: datetime | None = None) -> AuditHead:
    """On worker start: a ``CONFIG_CHANGE`` record for every configuration file whose content
    differs from the last one on the trail; returns the configuration chain's head. Waits for
    Kafka to acknowledge them (a worker must not run on a change the trail does not show)."""
    topic = Topics.of(settings).audit_config
    previous = [AuditRecord.model_validate(json.loads(v)) for _, v in read_topic(settings, topic)]
    head, seen = known(previous)
    files = snapshot(settings.profile_dir, settings.escalation_policy_file, settings.partner_dir)
    actor = f"hub:worker@{socket.gethostname()}"
    head, records = changes(head, seen, files, now or datetime.now(UTC), actor)
    if records:
        errors: list[str] = []
        producer = Producer({**settings.kafka_config(), "enable.idempotence": True})
        for record in records:
            producer.produce(
                topic,
                key=record.chain.encode(),
                value=encode(record),
                on_delivery=lambda err, _m: errors.append(str(err)) if err else None,
            )
        if producer.flush(30) or errors:
            raise DeliveryError(f"configuration records not acknowledged: {errors[:3]}")
    return head


def export(settings: Settings, out: Path, coi: str | None = None) -> tuple[Trail, int]:
    """The trail (or one chain's) written to ``out`` as files; returns it and the bytes written.
    The hub's public key goes beside it when this machine has the signing key."""
    trail = read_trail(settings, coi)
    pem = None
    if settings.audit_key_path.exists():
        pem = public_pem(load_private(settings.audit_key_path).public_key())
    sizes = write_export(trail, out, pem)
    return trail, sum(sizes.values())
