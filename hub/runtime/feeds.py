"""Partner feed health in the worker: the normalise agent tells what it hears, the chain agent
has each feed judged by the flow core at every tick (``FlowCore.on_feed_tick``).

A feed's row (key ``partner:<id>``) lives in the chains table on the partition Kafka's default
partitioner gives its key: the partition a command on one of its cases is produced to (the HTTP
view keys a command by the case's COI), so the row, its commands and its ticks are taken by one
agent in one order, and the row survives a restart in the changelog like any chain's.

What was heard since the last tick is kept in memory until that tick hands it to the row: a
worker that stops loses at most one tick interval of it. With several workers, each judges the
feeds whose rows it owns on what its own normalise agent heard and the chains it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from hub.events.models import Event
from hub.flow import Chain, FlowCore, Step
from hub.metrics import Metrics
from hub.partners.health import Heard, feed_key
from hub.runtime.chainstore import ChainStore


def home_partition(key: str, partitions: int) -> int:
    """The partition the producer's default partitioner (murmur2, as Faust's and the Java
    client's) gives ``key``."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), every, every))


class FeedWatch:
    """What this worker heard from each partner feed, and the feeds it judges at each tick."""

    def __init__(self, core: FlowCore, metrics: Metrics, partitions: int) -> None:
        self.core, self.metrics = core, metrics
        self.heard = Heard()
        self.home = {p: home_partition(feed_key(p), partitions) for p in core.feeds}

    def on_message(self, partner: str, received_at: datetime, dead: bool) -> None:
        """One raw message of ``partner`` read (``dead``: dead-lettered wholly or in part)."""
        latest = self.heard.heard(partner, received_at, dead)
        self.metrics.feed_last_seen.labels(partner).set(latest.timestamp())
        if dead:
            self.metrics.feed_dead_lettered.labels(partner).inc()

    def on_tick(self, store: ChainStore, tick: Event, partition: int) -> Iterator[Step]:
        """The steps of a tick on ``partition``: one per feed whose row lives there. The
        per-partner gauges follow each feed's health as judged."""
        for partner, home in self.home.items():
            if home != partition:
                continue
            row = store.get(feed_key(partner))
            heard = self.heard.take(partner, tick.occurred_at)
            step = self.core.on_feed_tick(row, partner, heard, tick, store.chains, partition)
            self._gauges(partner, step.chain or row)
            yield step

    def _gauges(self, partner: str, row: Chain | None) -> None:
        if row is None or row.feed is None:
            return
        health = row.feed
        self.metrics.feed_dead_letter_rate.labels(partner).set(health.dead_letter_rate or 0.0)
        self.metrics.feed_silent.labels(partner).set(1 if health.silent is not None else 0)
        self.metrics.feed_degraded.labels(partner).set(1 if health.degraded is not None else 0)
