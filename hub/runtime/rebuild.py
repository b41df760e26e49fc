"""The Redis read model is a projection: rebuilt from the chain table when it is lost or behind.

Redis holds no record of its own: every chain summary and case version it shows is in the
chain table (each chain's row holds its case desk, the latest version of each case). So a
Redis that restarted empty, or a write that failed while Redis stalled, costs nothing but a
rebuild:

* **lost**: each events partition this worker holds has a marker key
  (``projection:partition:<n>``, set once the partition's chains were projected). A marker that
  is missing means Redis lost what was written (or never had it): every chain of that partition
  is projected again, its summary and its cases (case writes keep the highest version, so a
  newer version written meanwhile stays).
* **behind**: a chain whose projection failed is remembered and projected again at the next
  check.

A check runs every ``REBUILD_EVERY_S`` seconds; ``v2v_projection_rebuilt_total`` counts the
chains projected again. Timelines (the events in brief) are not in the table and are not rebuilt.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from hub.flow import Chain
from hub.logthrottle import THROTTLE
from hub.runtime.chainstore import ChainStore
from hub.runtime.context import Worker

log = logging.getLogger("v2v.runtime")
REBUILD_EVERY_S = 5.0


class Rebuilder:
    def __init__(self, hub: Worker, store: ChainStore) -> None:
        self.hub, self.store = hub, store
        self.behind = hub.stale  # COIs whose last projection failed (Worker.project)

    def marker(self, partition: int) -> str:
        return self.hub.projection.key("projection", "partition", str(partition))

    async def check(self, partitions: set[int]) -> int:
        """Project again what Redis lost or missed; returns how many chains."""
        projection = self.hub.projection
        try:
            lost = {p for p in partitions if not await projection.redis.exists(self.marker(p))}
        except RedisError as exc:
            log.warning("read-model check postponed, Redis unavailable: %s", exc, extra=THROTTLE)
            return 0
        behind = set(self.behind)
        done = 0
        # each decoded when reached: the chain agent goes on while the projections are awaited
        for chain in self.store.chains(lost, behind) if lost or behind else ():
            if not await self._project(chain):
                return done  # Redis went away again: the next check carries on
            self.behind.discard(chain.coi_id)
            done += 1
        try:
            for partition in sorted(lost):
                await projection.redis.set(self.marker(partition), "1")
        except RedisError:
            return done
        if done:
            self.hub.metrics.projection_rebuilt.inc(done)
            log.warning("read model rebuilt for %d chains (partitions %s)", done, sorted(lost))
        return done

    async def _project(self, chain: Chain) -> bool:
        projection = self.hub.projection
        try:
            await projection.chains_updated([chain], [])
            for case in chain.desk.cases.values():
                await projection.case_updated(case)
        except RedisError as exc:
            self.behind.add(chain.coi_id)
            log.warning("read model rebuild of a chain postponed: %s", exc, extra=THROTTLE)
            return False
        return True


def register(hub: Worker, store: ChainStore) -> Rebuilder:
    rebuilder = Rebuilder(hub, store)

    @hub.app.timer(REBUILD_EVERY_S)  # type: ignore[untyped-decorator]
    async def rebuild_read_model() -> None:
        consumer: Any = hub.app.consumer
        assigned = consumer.assignment() if consumer is not None else set()
        partitions = {tp.partition for tp in assigned if tp.topic == hub.topics.events}
        if partitions and not hub.app.rebalancing and not hub.app.in_recovery:
            store.recover()  # every chain of the assigned partitions, recovered ones too
            await rebuilder.check(partitions)

    return rebuilder
