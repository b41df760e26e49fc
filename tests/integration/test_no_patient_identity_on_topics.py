"""DESIGN.md invariant 5 end to end: no patient identity on any topic, nor in a log line.

Every sample and every bad file of every connector goes through the real stack the way the edge
sends it (``connector.prepare_raw`` before the first write to Kafka, nothing written for what it
refuses), a real worker normalises, dead-letters and chains them, and then every record of every
topic of the deployment (the hub's topics and Faust's internal ones, the chain table's changelog
included), key, value and header values, is searched for every identity string the FHIR
samples' Patient resources hold, and so is the worker's log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from connectors.base import ConnectorConfig
from connectors.conformance import raw_message, sample_files
from connectors.registry import CONNECTORS, get_connector
from hub.errors import NormalisationError
from hub.events.models import Event
from hub.headers import CONTENT_TYPE_HEADER, EXTENSION_TYPES
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import Settings
from hub.sim.stack import Feeder, TopicReader, WorkerProcess
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-INV-05")]

EVENTS = SingleObjectWireFormat(codec_for(Event))
# The identities the samples are known to hold: without them the scan would prove nothing.
KNOWN = {
    "Marguerite",
    "Ilse",
    "Okonkwo-Lindqvist",
    "MRN-40417733",
    "999-41-7733",
    "+1-617-555-0147",
    "1961-08-23",
    "19610823",
    "17 Larchwood Terrace",
    "Tobias",
    "Wrenfield-Achterberg",
    "MRN-80926514",
    "1974-02-09",
    "4410 Quillfeather Lane",
    "Henrietta",
    "Vasquez-Moreau",
    "MRN-55120987",
    "1983-11-30",
}


def patients(doc: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("resourceType") == "Patient":
                found.append(item)
            stack.extend(item.values())
    return found


def identity_strings() -> set[str]:
    """What the FHIR samples' (and bad files') Patient resources say about the patient, collected
    independently of the connector's own privacy code: names (given and family apart, and whole),
    identifier values (MRN, SSN), birth dates in several renderings, address lines, city and
    postal code, phone numbers, and logical ids long enough to search for."""
    found: set[str] = set()
    for path in [*sample_files("fhir"), *sample_files("fhir", "bad")]:
        try:
            doc = json.loads(path.read_bytes())
        except json.JSONDecodeError:
            continue  # the truncated copy of a sample: its patient is in the sample
        for patient in patients(doc):
            for name in patient.get("name", []):
                found.update(name.get("given", []))
                found.update(name[k] for k in ("family", "text") if k in name)
            found.update(i["value"] for i in patient.get("identifier", []) if "value" in i)
            found.update(t["value"] for t in patient.get("telecom", []) if "value" in t)
            for address in patient.get("address", []):
                found.update(address.get("line", []))
                found.update(address[k] for k in ("city", "postalCode") if k in address)
            if "birthDate" in patient:
                y, m, d = patient["birthDate"].split("-")
                found |= {f"{y}-{m}-{d}", f"{y}{m}{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}"}
                found.add(f"{d}/{m}/{y}")
            if len(patient.get("id", "")) >= 6:
                found.add(patient["id"])
    return {s for s in found if len(s) >= 4}


def leaked(blob: bytes, secrets: set[str]) -> list[str]:
    """Secrets in the bytes: as text (latin-1 decodes any bytes; the secrets are ASCII), never
    next to another digit (so a postal code inside a timestamp's microseconds is no hit), and
    as raw bytes."""
    text = blob.decode("latin-1")

    def found(secret: str) -> bool:
        flags = re.IGNORECASE if len(secret) >= 6 else 0
        if re.search(rf"(?<![0-9]){re.escape(secret)}(?![0-9])", text, flags):
            return True
        return len(secret) >= 8 and secret.encode("utf-8") in blob

    return sorted(s for s in secrets if found(s))


def deployment_topics(settings: Settings) -> list[str]:
    """The hub's topics (by prefix) and Faust's internal ones (by app id)."""
    names = AdminClient(settings.kafka_config()).list_topics(timeout=10).topics
    return sorted(
        t
        for t in names
        if t.startswith(f"{settings.topic_prefix}.") or t.startswith(f"{settings.app_id}-")
    )


def read_everything(settings: Settings, topics: list[str]) -> dict[str, list[Any]]:
    """Every record now on these topics (up to each partition's high watermark)."""
    consumer = Consumer(
        {**settings.kafka_config(), "group.id": "v2v-privacy-scan", "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(timeout=10).topics
        todo: dict[tuple[str, int], int] = {}
        for topic in topics:
            for partition in metadata[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
                if high > low:
                    todo[(topic, partition)] = high
        records: dict[str, list[Any]] = {t: [] for t in topics}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in todo])
        deadline = time.monotonic() + 120
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                name = msg.topic()
                assert name is not None
                records[name].append(msg)
            # The position passes the high watermark also over offsets without a record.
            for tp in consumer.position([TopicPartition(t, p) for t, p in todo]):
                if tp.offset >= todo[(tp.topic, tp.partition)]:
                    del todo[(tp.topic, tp.partition)]
        assert not todo, f"could not read to the end of {sorted(todo)}"
        return records
    finally:
        consumer.close()


def blobs(msg: Any) -> list[bytes]:
    headers = msg.headers() or []
    return [msg.key() or b"", msg.value() or b"", *(k.encode() for k, _ in headers)] + [
        v or b"" for _, v in headers
    ]


def raw_done(worker: WorkerProcess) -> int:
    """Raw messages the worker has finished with (normalised and written, or dead-lettered):
    ``v2v_raw_accepted_total + v2v_raw_rejected_total`` from its /metrics."""
    try:
        text = httpx.get(f"{worker.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0
    counters = ("v2v_raw_accepted_total", "v2v_raw_rejected_total")
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(counters) and not line.startswith("#")
        )
    )


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def read_to_end(reader: TopicReader, at_least: int, what: str) -> None:
    """Every record the topic holds now, and at least ``at_least`` of them."""
    assert reader.reach(at_least, timeout_s=120), (
        f"{what}: {len(reader.records)} records, expected at least {at_least}"
    )
    assert reader.read_all(timeout_s=120), f"{what}: not read to its end"


def test_no_patient_identity_on_any_topic_or_log_line(
    hub_settings: Settings, tmp_path: Path
) -> None:
    secrets = identity_strings()
    assert secrets >= KNOWN, sorted(KNOWN - secrets)
    settings = hub_settings.model_copy(update={"partners": list(CONNECTORS)})
    topics = Topics.of(settings)
    config = ConnectorConfig(pseudonym_key=settings.pseudonym_secret())
    ensure_topics(settings)
    log_path = tmp_path / "worker.log"
    worker = WorkerProcess(settings, log_path).start()
    started = time.monotonic()
    written: dict[str, int] = {}
    refused: dict[str, NormalisationError] = {}
    want_dead = 0
    fhir_refs: set[str] = set()
    try:
        worker.wait_ready()
        with Feeder(settings) as feeder:
            for name in CONNECTORS:
                connector = get_connector(name, config)
                for path in [*sample_files(name), *sample_files(name, "bad")]:
                    try:
                        payload = connector.prepare_raw(path.read_bytes())
                    except NormalisationError as exc:
                        # Refused at the edge: nothing is written, the sender gets the reason.
                        refused[f"{name}/{path.parent.name}/{path.name}"] = exc
                        continue
                    assert not leaked(payload, secrets), f"prepare_raw left identity: {path}"
                    content_type = EXTENSION_TYPES[path.suffix].encode()
                    feeder.send(
                        topics.raw[name], [(None, payload, [(CONTENT_TYPE_HEADER, content_type)])]
                    )
                    written[name] = written.get(name, 0) + 1
                    result = connector.process(raw_message(connector, payload, path.suffix))
                    want_dead += result.rejection is not None
                    fhir_refs |= {e.patient_ref for e in result.events if e.patient_ref}
        assert written.get("fhir")
        assert fhir_refs, "no FHIR sample yields a patient_ref: nothing to look for"
        assert sorted(refused) == ["fhir/bad/missing-resource-type.json", "fhir/bad/not-json.json"]
        for where, refusal in refused.items():
            assert refusal.code in {"MISSING_FIELD", "NOT_JSON"}, where
            assert refusal.reason, where
            assert not leaked(f"{refusal.reason} {refusal.field}".encode(), secrets), where
        total = sum(written.values())
        wait_for(lambda: raw_done(worker) >= total, f"the worker to process {total} raw messages")
        with (
            TopicReader(settings, topics.events) as events,
            TopicReader(settings, topics.dlq) as dead,
        ):
            read_to_end(dead, want_dead, topics.dlq)
            read_to_end(events, 1, topics.events)
        # the chain agent has taken every event it was sent, so its rows are on the changelog
        worker.wait_metric("v2v_events_processed_total", events.count, timeout_s=120)
        changelog = f"{settings.app_id}-chains-changelog"
        with TopicReader(settings, changelog) as chains:
            read_to_end(chains, 1, changelog)
        processed_s = time.monotonic() - started
    finally:
        worker.stop()

    names = deployment_topics(settings)
    assert set(topics.all()) <= set(names)
    assert changelog in names
    records = read_everything(settings, names)
    hits = {
        f"{topic}@{msg.partition()}:{msg.offset()}": found
        for topic, msgs in records.items()
        for msg in msgs
        if (found := leaked(b"\n".join(blobs(msg)), secrets))
    }
    assert not hits, hits

    # The scan read what matters, so it cannot pass on empty topics.
    assert len(records[topics.raw["fhir"]]) == written["fhir"]
    for topic in (topics.events, topics.dlq, changelog):
        assert records[topic], f"nothing read from {topic}"
    on_topic = [EVENTS.decode(m.value()) for m in records[topics.events]]
    seen_refs = {e.patient_ref for e in on_topic if e.source.partner == "fhir" and e.patient_ref}
    assert seen_refs == fhir_refs
    fhir_dead = [m for m in records[topics.dlq] if m.topic() == topics.dlq]
    assert any(dict(m.headers() or []).get("v2v.errors.partner") == b"fhir" for m in fhir_dead), (
        "no FHIR message was dead-lettered"
    )

    log_text = log_path.read_bytes()
    assert log_text, "the worker wrote no log at all"
    assert not leaked(log_text, secrets), "the worker's log carries patient identity"
    counts = ", ".join(f"{t}={len(m)}" for t, m in records.items())
    print(f"\nprocessed in {processed_s:.1f}s; records scanned: {counts}")
