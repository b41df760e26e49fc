"""Drive a real hub from outside: start a worker process, produce raw messages, read topics.

Used by ``v2v demo`` and by the integration tests, so both exercise the same real path:
a separate worker process (``v2v run``) talking to a real Kafka broker and Redis server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from pydantic import SecretStr

from hub.errors import DeliveryError
from hub.events.models import Event
from hub.headers import RECEIVED_AT_HEADER
from hub.runtime.app import tick_event
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import Settings


def free_port() -> int:
    """A port the kernel just handed out on loopback (so parallel runs never collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # murmur2: the partitioner Faust (aiokafka) and the Java clients use, so a COI keyed
        # here lands on the same partition as the hub's own writes for that COI.
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "enable.idempotence": True,
                "linger.ms": 2,
                "partitioner": "murmur2_random",
            }
        )
        self._wire = SingleObjectWireFormat(codec_for(Event))

    def send(
        self,
        topic: str,
        records: Iterable[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]],
        partition: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Write and wait for acknowledgement. ``at`` stamps the hub's receipt time (header
        ``v2v.received_at``): the simulator's clock, so simulated messages are never "late"."""
        errors: list[str] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        count = 0
        for key, value, headers in records:
            stamp = [(RECEIVED_AT_HEADER, at.isoformat().encode())] if at is not None else []
            kwargs: dict[str, Any] = {
                "key": key,
                "value": value,
                "headers": [*(headers or []), *stamp],
            }
            if partition is not None:
                kwargs["partition"] = partition
            self._producer.produce(topic, on_delivery=on_delivery, **kwargs)
            self._producer.poll(0)
            count += 1
        if self._producer.flush(30) or errors:
            raise DeliveryError(f"{topic}: {len(errors)} records not acknowledged: {errors[:3]}")
        return count

    def ticks(self, topic: str, when: datetime) -> None:
        """One simulated CLOCK_TICK per events partition (the simulator's clock)."""
        for partition in range(self.settings.topic_partitions):
            tick = self._wire.encode(tick_event(when, partition, "simulated"))
            self.send(topic, [(b"", tick, None)], partition)

    def close(self) -> None:
        self._producer.flush(30)

    def __enter__(self) -> Feeder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TopicReader:
    """Reads every record of a topic from the beginning, keeping what it has read.

    Assigns all partitions directly (no consumer group), so reading never disturbs the hub.
    """

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.records: list[Any] = []
        self._consumer = Consumer(
            {**settings.kafka_config(), "group.id": "v2v-reader", "enable.auto.commit": False}
        )
        metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        )

    def poll_until(self, until: Callable[[list[Any]], bool], timeout_s: float = 60.0) -> bool:
        """Read until ``until(records)`` holds (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while not until(self.records):
            if time.monotonic() > deadline:
                return False
            msg = self._consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                self.records.append(msg)
        return True

    def drain(self, quiet_s: float = 1.0) -> list[Any]:
        """Read until nothing new arrived for ``quiet_s`` seconds."""
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            msg = self._consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                self.records.append(msg)
                last = time.monotonic()
        return self.records

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
