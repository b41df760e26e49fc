"""Consumer lag per topic partition, for the ``v2v_consumer_lag`` gauge.

Neither Faust nor aiokafka exports lag. Every :data:`LAG_INTERVAL_S` each worker compares, for
every partition its consumer is assigned of the topics its agents read, the partition's end
(``highwater``: as of the consumer's last fetch from it) with the consumer's position (the next
offset it will fetch). Records fetched but still being processed count as consumed: a stuck
agent shows once Faust's buffers are full and fetching stops, the lag then holding or growing.

Faust's own topics (table changelogs, the assignor's) are left out: a worker writes its
changelogs itself and reads them only to recover, so their position says nothing about work
waiting. A partition that leaves the assignment has its series removed; one whose highwater is
not known yet (no fetch answered) is not reported rather than reported as zero.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

from aiokafka.errors import IllegalStateError  # type: ignore[import-untyped]
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import Gauge

LAG_INTERVAL_S = 10.0


class Offsets(Protocol):
    """The part of a Faust consumer this module reads."""

    def assignment(self) -> set[TP]: ...

    def highwater(self, tp: TP) -> int | None: ...

    async def position(self, tp: TP) -> int | None: ...


async def sample(consumer: Offsets, topics: Collection[str]) -> dict[TP, int]:
    """Lag of every assigned partition of ``topics`` whose highwater and position are known."""
    lags: dict[TP, int] = {}
    for tp in sorted(consumer.assignment()):
        if tp.topic not in topics:
            continue
        try:
            end = consumer.highwater(tp)
            position = await consumer.position(tp)
        except (AssertionError, IllegalStateError):  # revoked since assignment() (aiokafka
            continue  # asserts in highwater, raises in position)
        if end is None or position is None:
            continue
        lags[tp] = max(end - position, 0)
    return lags


class LagGauge:
    """Sets ``gauge`` (labels topic, partition) from each :func:`sample`; drops the series of
    partitions no longer reported."""

    def __init__(self, gauge: Gauge, topics: Iterable[str]) -> None:
        self.gauge = gauge
        self.topics = frozenset(topics)
        self._shown: set[tuple[str, str]] = set()

    async def update(self, consumer: Offsets) -> dict[TP, int]:
        lags = await sample(consumer, self.topics)
        shown = {(tp.topic, str(tp.partition)) for tp in lags}
        for labels in self._shown - shown:
            self.gauge.remove(*labels)
        for tp, lag in lags.items():
            self.gauge.labels(tp.topic, str(tp.partition)).set(lag)
        self._shown = shown
        return lags


def register(app: Any, gauge: Gauge, topics: Iterable[str]) -> LagGauge:
    """Update ``gauge`` every :data:`LAG_INTERVAL_S` on every worker of ``app`` (not only the
    leader: each reports the partitions it was assigned)."""
    lag = LagGauge(gauge, topics)

    @app.timer(LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        consumer = app.consumer
        if consumer is None or app.rebalancing:
            return
        try:
            await lag.update(consumer)
        except ConsumerNotStarted:  # the timer may fire before the consumer thread runs
            return

    return lag
