"""The chain table with a decoded cache, a due view for clock ticks and the stage gauge.

One table row per chain (key: COI) holds a :class:`hub.flow.Chain` (engine state and case
desk). The Faust table (JSON changelog) is the durable store; the decoded cache spares a tick
from re-validating every chain. The cache is dropped on every partition revocation, so it never
outlives ownership.

:meth:`ChainStore.put` only marks a chain dirty; :meth:`ChainStore.flush` writes every dirty
chain to the table once. The chain agent flushes at the end of each batch of records, before
the batch is acknowledged, so the changelog gets one record per chain per batch instead of one
per event (a 20-row logger export is one write, not twenty) with the same at-least-once
guarantee: an offset is committed only after its batch's table writes were handed to Faust.

The stage gauge counts the chains this worker holds, those recovered from the changelog
included: :meth:`load_all` decodes every row of the assigned partitions once, and from then on
every change of stage moves the count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from datetime import datetime
from typing import Any

from hub.flow import Chain, FlowCore

Writer = Callable[[str, dict[str, Any], int], None]
"""``write(coi_id, row, partition)``: store one row, its changelog record on ``partition``."""
StageGauge = Callable[[dict[str, int]], None]


class ChainStore:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        core: FlowCore,
        write: Writer | None = None,
        on_stages: StageGauge | None = None,
    ) -> None:
        self.table = table
        self.core = core
        self._write = write or self._set_item
        self._on_stages = on_stages
        self._cache: dict[str, Chain] = {}
        self._dirty: dict[str, int] = {}
        self._complete = False
        self.stages: Counter[str] = Counter()

    def _set_item(self, coi_id: str, row: dict[str, Any], _partition: int) -> None:
        self.table[coi_id] = row

    def get(self, coi_id: str) -> Chain | None:
        chain = self._cache.get(coi_id)
        if chain is None:
            raw = self.table.get(coi_id)
            if raw is None:
                return None
            chain = self._cache[coi_id] = Chain.from_row(raw)
            self.stages[chain.state.stage] += 1
        return chain

    def put(self, chain: Chain, partition: int) -> None:
        """Keep ``chain`` (living on events ``partition``) as the latest version; durable after
        the next :meth:`flush`."""
        known = self._cache.get(chain.coi_id)
        if known is not None:
            self.stages[known.state.stage] -= 1
        self.stages[chain.state.stage] += 1
        self._cache[chain.coi_id] = chain
        self._dirty[chain.coi_id] = partition

    def flush(self) -> int:
        """Write every chain changed since the last flush to the table; returns how many."""
        dirty, self._dirty = self._dirty, {}
        for coi_id, partition in dirty.items():
            self._write(coi_id, self._cache[coi_id].to_row(), partition)
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
        return len(dirty)

    def load_all(self) -> None:
        """Decode every row of the assigned partitions (once per assignment)."""
        if not self._complete:
            for coi_id in list(self.table.keys()):
                self.get(coi_id)
            self._complete = True

    def due(self, partition: int, now: datetime) -> Iterator[Chain]:
        """Chains of ``partition`` with a deadline or a re-escalation at or before ``now``."""
        self.load_all()
        for chain in list(self._cache.values()):
            if chain.state.partition == partition and self.core.due(chain, now):
                yield chain

    def heads(self, partition: int) -> dict[str, tuple[int, str]]:
        """The audit head (seq, hash) of every chain of ``partition`` with a record."""
        self.load_all()
        return {
            c.coi_id: (c.audit.seq, c.audit.hash)
            for c in self._cache.values()
            if c.state.partition == partition and c.audit.hash is not None
        }

    def chains(self) -> list[Chain]:
        return list(self._cache.values())

    def forget(self) -> None:
        """Drop the cache (partitions were revoked; ownership may have moved). Faust waits for
        in-flight records before revoking, so nothing is dirty here; flushed anyway."""
        self.flush()
        self._cache.clear()
        self._complete = False
        self.stages = Counter({stage: 0 for stage in self.stages})
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
