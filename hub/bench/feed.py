"""Getting the benchmark's messages onto the raw topics and watching the worker take them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import httpx
from confluent_kafka import Producer

from hub.bench.stats import metric_total, proc_cpu_seconds, vm_rss_bytes
from hub.bench.workload import BenchMessage
from hub.errors import DeliveryError
from hub.headers import RECEIVED_AT_HEADER
from hub.settings import Settings
from hub.sim.stack import WorkerProcess
from hub.topics import Topics


class RawSender:
    """One idempotent producer for the raw topics. ``send`` returns the wall-clock produce time
    (ms since the epoch) it stamped on the record, which is also the record's timestamp."""

    def __init__(self, settings: Settings) -> None:
        self.topics = Topics.of(settings)
        self._errors: list[str] = []
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "enable.idempotence": True,
                "linger.ms": 1,
                "partitioner": "murmur2_random",
            }
        )

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, message: BenchMessage) -> int:
        stamp = int(time.time() * 1000)
        headers: list[tuple[str, str | bytes | None]] = [
            ("content-type", message.content_type.encode()),
            (RECEIVED_AT_HEADER, message.received_at.isoformat().encode()),
        ]
        while True:
            try:
                self._producer.produce(
                    self.topics.raw[message.partner],
                    value=message.value,
                    key=message.key,
                    headers=headers,
                    timestamp=stamp,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain
        self._producer.poll(0)
        return stamp

    def send_all(self, messages: Iterable[BenchMessage]) -> int:
        count = 0
        for message in messages:
            self.send(message)
            count += 1
        self.flush()
        return count

    def flush(self) -> None:
        if self._producer.flush(60) or self._errors:
            raise DeliveryError(f"{len(self._errors)} raw records not acknowledged")

    def close(self) -> None:
        self._producer.flush(30)


class WorkerProbe:
    """What the worker says about itself: its /metrics counters and its VmRSS."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self._client = httpx.Client(base_url=worker.url, timeout=5)

    def metrics(self) -> str:
        return self._client.get("/metrics").raise_for_status().text

    def processed(self) -> int:
        """Business events applied by the chain agent (clock ticks left out)."""
        text = self.metrics()
        total = metric_total(text, "v2v_events_processed_total")
        ticks = metric_total(text, "v2v_events_processed_total", event_type="CLOCK_TICK")
        return int(total - ticks)

    def rejected(self) -> int:
        return int(metric_total(self.metrics(), "v2v_raw_rejected_total"))

    def _proc(self, name: str) -> str:
        process = self.worker.process
        if process is None:
            raise RuntimeError("worker not started")
        with open(f"/proc/{process.pid}/{name}", encoding="ascii") as file:
            return file.read()

    def rss(self) -> int:
        return vm_rss_bytes(self._proc("status"))

    def cpu_seconds(self) -> float:
        """CPU time the worker process has used so far (every thread, user + system)."""
        return proc_cpu_seconds(self._proc("stat"), os.sysconf("SC_CLK_TCK"))

    def wait_processed(self, target: int, timeout_s: float, poll_s: float = 0.1) -> float:
        """Block until ``target`` events were processed; returns the monotonic time seen."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.processed() >= target:
                    return time.monotonic()
            except httpx.HTTPError:
                pass  # a busy worker may answer late: ask again
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"worker processed {self._safe_processed()} of {target} events in "
                    f"{timeout_s:.0f}s; see {self.worker.log_path}"
                )
            if self.worker.process is not None and self.worker.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.worker.log_path}")
            time.sleep(poll_s)

    def _safe_processed(self) -> int | str:
        try:
            return self.processed()
        except httpx.HTTPError:
            return "?"

    def close(self) -> None:
        self._client.close()
