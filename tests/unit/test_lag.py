"""Consumer lag: highwater minus position per assigned partition of the topics the agents read,
nothing for Faust's own topics or for partitions not fetched yet, series dropped on revocation."""

from __future__ import annotations

import asyncio

from aiokafka.errors import IllegalStateError
from faust.types import TP
from prometheus_client import CollectorRegistry

from hub.metrics import create_metrics
from hub.runtime.lag import LagGauge, sample

EVENTS, RAW = "v2v.events", "v2v.raw.courier"
CHANGELOG = "v2v-hub-chains-changelog"


class Consumer:
    """The offsets a Faust consumer would report: ``ends`` and ``positions`` per partition;
    ``revoked`` partitions are listed by ``assignment()`` but gone when asked about (a
    rebalance in between), as aiokafka does."""

    def __init__(
        self,
        ends: dict[TP, int | None],
        positions: dict[TP, int],
        revoked: frozenset[TP] = frozenset(),
    ) -> None:
        self.ends, self.positions, self.revoked = ends, positions, revoked

    def assignment(self) -> set[TP]:
        return set(self.ends)

    def highwater(self, tp: TP) -> int | None:
        assert tp not in self.revoked, "Partition is not assigned"
        return self.ends[tp]

    async def position(self, tp: TP) -> int | None:
        if tp in self.revoked:
            raise IllegalStateError(f"Partition {tp} is not assigned")
        return self.positions[tp]


def test_lag_per_partition_of_the_topics_read() -> None:
    consumer = Consumer(
        ends={TP(EVENTS, 0): 120, TP(EVENTS, 1): 40, TP(RAW, 3): None, TP(CHANGELOG, 0): 900},
        positions={TP(EVENTS, 0): 100, TP(EVENTS, 1): 40, TP(RAW, 3): 0, TP(CHANGELOG, 0): 10},
    )
    lags = asyncio.run(sample(consumer, {EVENTS, RAW}))
    # RAW/3 was never fetched: no highwater yet, so no figure rather than a false zero
    assert lags == {TP(EVENTS, 0): 20, TP(EVENTS, 1): 0}


def test_a_partition_revoked_while_sampled_is_left_out() -> None:
    gone, kept = TP(EVENTS, 2), TP(EVENTS, 0)
    for revoked in ({gone}, {kept}):
        consumer = Consumer({gone: 9, kept: 5}, {gone: 1, kept: 2}, frozenset(revoked))
        lags = asyncio.run(sample(consumer, {EVENTS}))
        assert set(lags) == {gone, kept} - revoked


def test_gauge_follows_the_assignment() -> None:
    metrics = create_metrics(CollectorRegistry())
    gauge = LagGauge(metrics.consumer_lag, [EVENTS])

    def shown(partition: int) -> float | None:
        return metrics.registry.get_sample_value(
            "v2v_consumer_lag", {"topic": EVENTS, "partition": str(partition)}
        )

    asyncio.run(
        gauge.update(
            Consumer({TP(EVENTS, 0): 50, TP(EVENTS, 1): 7}, {TP(EVENTS, 0): 20, TP(EVENTS, 1): 7})
        )
    )
    assert (shown(0), shown(1)) == (30, 0)
    # a rebalance took partition 0 away and the consumer caught up on 1
    asyncio.run(gauge.update(Consumer({TP(EVENTS, 1): 12}, {TP(EVENTS, 1): 12})))
    assert (shown(0), shown(1)) == (None, 0)
