"""Drive a real hub from outside: start a worker process, produce records, read topics.

Used by ``v2v demo`` (through the live runner), ``v2v bench`` and the integration tests, so all
of them exercise the same real path: a separate worker process (``v2v run``) talking to a real
Kafka broker and Redis server.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from hub.errors import DeliveryError
from hub.events.models import Event
from hub.flow.core import tick_event
from hub.headers import RECEIVED_AT_HEADER
from hub.serde import wire_for
from hub.settings import Settings
from hub.ticks import signature, tick_key, tick_topics

Headers = list[tuple[str, bytes]]


def free_port() -> int:
    """A port the kernel just handed out on loopback (so parallel runs never collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_offsets(settings: Settings, topics: list[str]) -> list[tuple[str, int, int, int]]:
    """Where the hub's consumer group (its app id) stands on every partition of ``topics``:
    ``(topic, partition, committed, end)``, committed negative when the group committed none.
    Read without joining the group."""
    consumer = Consumer({**settings.kafka_config(), "group.id": settings.app_id})
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(settings.topic_partitions)]
        return [
            (tp.topic, tp.partition, tp.offset, consumer.get_watermark_offsets(tp, timeout=10)[1])
            for tp in consumer.committed(parts, timeout=10)
        ]
    finally:
        consumer.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | dict):
            value = json.dumps(value)
        env[f"V2V_{name.upper()}"] = str(value)
    return env


@dataclass
class WorkerProcess:
    """A ``v2v run`` child process; its output goes to ``log_path``, never to our terminal."""

    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **settings_env(self.settings)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "run"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @contextmanager
    def running(self) -> Iterator[WorkerProcess]:
        """Started and ready for the ``with`` block; stopped after it, whatever happened."""
        self.start()
        try:
            self.wait_ready()
            yield self
        finally:
            self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(
            f"worker not ready after {timeout_s}s; see {self.log_path}:\n{self.tail()}"
        )

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a counter or gauge on the worker's ``/metrics`` over the series whose
        labels include ``labels`` (0 when there is none yet)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def wait_metric(
        self, name: str, at_least: float, timeout_s: float = 60.0, **labels: str
    ) -> float:
        """Wait until :meth:`metric` reaches ``at_least``; returns its value, or raises
        TimeoutError with the worker's log tail."""
        deadline = time.monotonic() + timeout_s
        while (value := self.metric(name, **labels)) < at_least:
            if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                raise TimeoutError(f"{name}{labels} = {value} < {at_least}:\n{self.tail()}")
            time.sleep(0.1)
        return value

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> int | None:
        """SIGKILL, as a crash: no clean shutdown, no leaving the group."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(10)


class Feeder:
    """One producer for a whole run (creating a producer per send costs ~0.5 s of handshakes).

    Every ``send`` returns only after Kafka acknowledged all its records.
    """

    def __init__(self, settings: Settings, compression: str = "none") -> None:
        """``compression``: the codec of the record batches (any Kafka has: a partner's client
        may use any of them)."""
        self.settings = settings
        # murmur2: the partitioner Faust (aiokafka) and the Java clients use, so a COI keyed
        # here lands on the same partition as the hub's own writes for that COI.
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "enable.idempotence": True,
                "linger.ms": 1,
                "partitioner": "murmur2_random",
                "compression.type": compression,
            }
        )
        self._wire = wire_for(
            Event, settings.wire_format, settings.topic("events"), settings.schema_registry_url
        )
        self._errors: list[str] = []

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers | None = None,
        partition: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Queue one record; :meth:`flush` waits for it. ``at`` stamps the hub's receipt time
        (header ``v2v.received_at``): the simulator's clock, so simulated messages are never
        "late"."""
        stamp = [(RECEIVED_AT_HEADER, at.isoformat().encode())] if at is not None else []
        kwargs: dict[str, Any] = {"key": key, "value": value, "headers": [*(headers or []), *stamp]}
        if partition is not None:
            kwargs["partition"] = partition
        self._producer.produce(topic, on_delivery=self._delivered, **kwargs)
        self._producer.poll(0)

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def flush(self) -> None:
        """Wait until Kafka acknowledged every queued record, or raise DeliveryError."""
        errors, self._errors = self._errors, []
        if self._producer.flush(30) or errors or self._errors:
            errors += self._errors
            self._errors = []
            raise DeliveryError(f"{len(errors)} records not acknowledged: {errors[:3]}")

    def send(
        self,
        topic: str,
        records: Iterable[tuple[bytes | None, bytes, Headers | None]],
        partition: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Write and wait for acknowledgement."""
        count = 0
        for key, value, headers in records:
            self.produce(topic, key, value, headers, partition, at)
            count += 1
        self.flush()
        return count

    def encode(self, event: Event) -> bytes:
        return self._wire.encode(event)

    def queue_ticks(self, when: datetime) -> None:
        """One simulated CLOCK_TICK per partition of the events topic (for the chains) and of
        the feeds topic (for the partner feeds), as the worker's own ticker sends them (the
        simulator's clock, signed with the hub's tick key: the hub's settings are its), queued."""
        key = tick_key(self.settings.pseudonym_secret())
        for partition in range(self.settings.topic_partitions):
            tick = self._wire.encode(tick_event(when, partition, "simulated"))
            for topic in tick_topics(self.settings):
                self.produce(topic, b"", tick, [signature(key, tick)], partition=partition)

    def ticks(self, when: datetime) -> None:
        """The ticks of :meth:`queue_ticks`, acknowledged."""
        self.queue_ticks(when)
        self.flush()

    def close(self) -> None:
        self._producer.flush(30)

    def __enter__(self) -> Feeder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
}


class TopicReader:
    """Reads every record of a topic from the beginning; counts them (``count``; ``keyed``:
    those with a key, as clock ticks have none) and keeps them when ``keep``.

    :meth:`reach` waits on **distinct** records (same key and value: the same record, written
    again when a restarted worker replays its input), so a barrier never lets a duplicate stand
    in for a record still to come; ``duplicates`` says how many were suppressed.

    Assigns all partitions directly (no consumer group), so reading never disturbs the hub.
    """

    def __init__(self, settings: Settings, topic: str, keep: bool = True) -> None:
        self.topic, self.keep = topic, keep
        self.records: list[Any] = []
        self.count = self.keyed = 0
        self.distinct = self.distinct_keyed = 0
        self._seen: set[bytes] = set()
        self._consumer = Consumer(
            {**settings.kafka_config(), "group.id": "v2v-reader", "enable.auto.commit": False}
        )
        metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        )

    def pump(self, timeout: float = 0.05) -> int:
        """Read what is there (waiting up to ``timeout``); returns how many records came."""
        # consume() blocks for its whole timeout unless it fills the batch; poll() returns with
        # the first record. So: what is there, else the first record to come and what followed.
        batch = self._consumer.consume(num_messages=1000, timeout=0)
        if not batch:
            first = self._consumer.poll(timeout)
            if first is not None:
                batch = [first, *self._consumer.consume(num_messages=1000, timeout=0)]
        got = 0
        for msg in batch:
            if msg.error() is not None:
                continue
            got += 1
            self.count += 1
            self.keyed += 1 if msg.key() else 0
            digest = hashlib.blake2b(msg.key() or b"", digest_size=16)
            digest.update(b"\x00" + (msg.value() or b""))
            if digest.digest() not in self._seen:
                self._seen.add(digest.digest())
                self.distinct += 1
                self.distinct_keyed += 1 if msg.key() else 0
            if self.keep:
                self.records.append(msg)
        return got

    @property
    def duplicates(self) -> int:
        return self.count - self.distinct

    def poll_until(self, until: Callable[[list[Any]], bool], timeout_s: float = 60.0) -> bool:
        """Read until ``until(records)`` holds (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while not until(self.records):
            if time.monotonic() > deadline:
                return False
            self.pump()
        return True

    def reach(
        self, target: int, timeout_s: float = 60.0, keyed: bool = False, distinct: bool = True
    ) -> bool:
        """Read until ``target`` distinct records (with a key, when ``keyed``; every record,
        duplicates included, when not ``distinct``) were read."""
        deadline = time.monotonic() + timeout_s
        while self._read(keyed, distinct) < target:
            if time.monotonic() > deadline:
                return False
            self.pump()
        return True

    def size(self, timeout_s: float = 30.0) -> int:
        """Records on the topic now (the sum of its partitions' end offsets less their start).
        A topic created a moment ago may have no leader yet: asked again until it has."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                total = 0
                for tp in self._consumer.assignment():
                    low, high = self._consumer.get_watermark_offsets(tp, timeout=10)
                    total += high - low
                return total
            except KafkaException as exc:
                if exc.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _read(self, keyed: bool, distinct: bool) -> int:
        if distinct:
            return self.distinct_keyed if keyed else self.distinct
        return self.keyed if keyed else self.count

    def read_all(self, timeout_s: float = 60.0) -> bool:
        """Read every record the topic holds at the time of the call (duplicates too: the end
        offsets count them)."""
        return self.reach(self.size(), timeout_s, distinct=False)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
