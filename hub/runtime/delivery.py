"""A record the worker writes that Kafka refuses is never a silent loss.

Faust sends a record and goes on: a record Kafka refuses for good (larger than the topic
allows, not authorised, a batch that expired waiting for its leader) fails only the send's
future, which Faust hands to its sensors and otherwise forgets. The input that caused it would
then be acknowledged and committed as if its records had been written: a heard note, an event
or a case version lost without a trace.

:class:`DeliveryGuard` is that sensor: it logs each refused record (its topic and Kafka's
reason; never the record, which may be about a patient), counts it in
``v2v_produce_errors_total{topic}``, and makes the producer's flush raise. Faust flushes the
producer before it commits its input offsets, so nothing read after the last good commit is
committed: the worker crashes and, restarted, reads that input again and writes its records
again (replayed records are recognised downstream as any after a crash).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from hub.errors import DeliveryError
from hub.metrics import Metrics

log = logging.getLogger("v2v.runtime")


class DeliveryGuard(faust.Sensor):
    """Faust sensor: every record Kafka refused, logged and counted; the producer's flush
    raises once one was (:meth:`guard`)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics
        self.refused: list[str] = []

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        return topic  # the state Faust gives on_send_error back

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        topic = state if isinstance(state, str) else "unknown"
        self.metrics.produce_errors.labels(topic).inc()
        reason = f"{type(exc).__name__}: {exc}"
        self.refused.append(f"{topic}: {reason}")
        log.error(
            "Kafka refused a record the worker wrote to %s (%s); the worker stops before it "
            "commits the input that caused it, and reads that input again when restarted",
            topic,
            reason,
        )

    def guard(self, producer: Any) -> None:
        """Make ``producer.flush()`` (Faust's, before each commit of input offsets) raise
        DeliveryError once a record was refused."""
        flush: Callable[[], Awaitable[None]] = producer.flush

        async def guarded() -> None:
            await flush()
            await asyncio.sleep(0)  # the send futures' callbacks (this sensor) run first
            if self.refused:
                raise DeliveryError(
                    f"Kafka refused {len(self.refused)} record(s) the worker wrote "
                    f"(first: {self.refused[0]}); input offsets not committed"
                )

        producer.flush = guarded
