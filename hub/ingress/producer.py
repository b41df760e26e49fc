"""The edge's Kafka writer: one raw record in, Kafka's acknowledgement (or a DeliveryError) out.

confluent-kafka reports a write's outcome in a delivery callback that runs inside
``Producer.poll``. :class:`RawProducer` polls on a daemon thread of its own and resolves a
:class:`concurrent.futures.Future` per record from that callback, so the same writer serves an
asyncio caller (:meth:`RawProducer.send`, the HTTP ingress) and a blocking one
(:meth:`RawProducer.send_sync`, the file drop).

Guarantee: ``send``/``send_sync`` return only once the broker acknowledged the record with
``acks=all`` (idempotent producer); anything else (broker unreachable, topic missing, local queue
full, no answer within the delivery timeout) raises :class:`~hub.errors.DeliveryError`. A
DeliveryError does not prove the record was *not* written (the acknowledgement may have been
lost), so callers retry; downstream this is harmless because event ids are derived from the
partner message itself (DESIGN.md invariant 6).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, Producer

from hub.errors import DeliveryError
from hub.logthrottle import RepeatFilter
from hub.settings import Settings

log = logging.getLogger("v2v.ingress.producer")

Headers = Sequence[tuple[str, bytes]]
# librdkafka fires the delivery callback by message.timeout.ms at the latest; the extra wait only
# guards against a callback that never comes (a stuck poll thread).
_CALLBACK_GRACE_S = 5.0


def _kafka_log(settings: Settings) -> logging.Logger:
    kafka_log = logging.getLogger("v2v.ingress.kafka")
    if not any(isinstance(f, RepeatFilter) for f in kafka_log.filters):
        kafka_log.addFilter(RepeatFilter(settings.log_repeat_interval_s))
    return kafka_log


@dataclass(frozen=True)
class Delivered:
    """Where Kafka stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


class RawProducer:
    """An idempotent confluent-kafka producer with its own poll thread.

    ``delivery_timeout_s`` (default ``V2V_DELIVERY_TIMEOUT_S``, 5 s) becomes librdkafka's
    ``message.timeout.ms``: the longest a record may wait for its acknowledgement (including
    retries) before it is reported failed, so a broker outage is a DeliveryError in seconds.
    ``config`` overrides or adds librdkafka keys (tests use it; production needs none).
    Thread-safe; call :meth:`close` once when done (flushes what is in flight).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_timeout_s: float | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        delivery_timeout_s = delivery_timeout_s or settings.delivery_timeout_s
        if delivery_timeout_s <= 0:
            raise ValueError("delivery_timeout_s must be positive")
        self.delivery_timeout_s = delivery_timeout_s
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "client.id": "v2v-ingress",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "message.timeout.ms": int(delivery_timeout_s * 1000),
                # librdkafka's own log lines go through logging (served by poll()), not stderr,
                # its reconnect errors once per interval while a broker is down.
                "logger": _kafka_log(settings),
                **(config or {}),
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="v2v-ingress-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(0.1)
            except Exception:  # a failing callback must not stop every later acknowledgement
                log.exception("producer poll failed")

    def submit(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Future[Delivered]:
        """Queue one record; the future resolves on Kafka's acknowledgement or its failure."""
        future: Future[Delivered] = Future()
        # RUNNING futures cannot be cancelled, so a caller that gave up (asyncio timeout) never
        # makes the callback below fail on a cancelled future.
        future.set_running_or_notify_cancel()

        def on_delivery(err: Any, msg: Any) -> None:
            try:
                if err is not None:
                    future.set_exception(DeliveryError(f"{topic}: not acknowledged: {err}"))
                else:
                    future.set_result(Delivered(msg.topic(), msg.partition(), msg.offset()))
            except InvalidStateError:
                pass

        try:
            self._producer.produce(
                topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
            )
        except (BufferError, KafkaException) as exc:
            future.set_exception(DeliveryError(f"{topic}: cannot queue the record: {exc}"))
        return future

    @property
    def wait_s(self) -> float:
        """How long callers wait for an acknowledgement before giving up."""
        return self.delivery_timeout_s + _CALLBACK_GRACE_S

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Delivered:
        """Write one record and wait (without blocking the loop) for its acknowledgement."""
        future = asyncio.wrap_future(self.submit(topic, value, key=key, headers=headers))
        try:
            return await asyncio.wait_for(future, self.wait_s)
        except TimeoutError as exc:
            raise DeliveryError(f"{topic}: no acknowledgement within {self.wait_s:g}s") from exc

    def send_sync(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Delivered:
        """Write one record and block until its acknowledgement."""
        future = self.submit(topic, value, key=key, headers=headers)
        try:
            return future.result(timeout=self.wait_s)
        except TimeoutError as exc:
            raise DeliveryError(f"{topic}: no acknowledgement within {self.wait_s:g}s") from exc

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop polling and flush what is still in flight (at most ``timeout_s``)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        remaining = self._producer.flush(timeout_s)
        if remaining:
            log.warning("closed with %d records not acknowledged", remaining)

    def __enter__(self) -> RawProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
