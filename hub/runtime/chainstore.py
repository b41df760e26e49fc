"""The chain table with a decoded cache and a due view for clock ticks.

One table row per chain (key: COI) holds the engine's :class:`ChainState` and the chain's
:class:`CaseDesk`, so events, commands and ticks of a chain are applied in one order by the one
worker that owns its partition. The Faust table (JSON changelog) is the durable store; the
decoded cache spares a tick from re-validating every chain. The cache is dropped on every
partition revocation, so it never outlives ownership.

:meth:`ChainStore.put` only marks a chain dirty; :meth:`ChainStore.flush` writes every dirty
chain to the table once. The chain agent flushes at the end of each batch of records, before
the batch is acknowledged, so the changelog gets one record per chain per batch instead of one
per event (a 20-row logger export is one write, not twenty) with the same at-least-once
guarantee: an offset is committed only after its batch's table writes were handed to Faust.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.cases.desk import CaseDesk
from hub.cases.escalation import EscalationPolicy
from hub.chain.state import ChainState


@dataclass
class Chain:
    state: ChainState
    desk: CaseDesk = field(default_factory=CaseDesk)

    def due_at(self, policy: EscalationPolicy) -> datetime | None:
        deadline = self.state.next_deadline
        times = [deadline.due_at] if deadline is not None else []
        escalation = self.desk.next_due(policy)
        if escalation is not None:
            times.append(escalation)
        return min(times, default=None)


Writer = Callable[[str, dict[str, Any], int], None]
"""``write(coi_id, row, partition)``: store one row, its changelog record on ``partition``."""


class ChainStore:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        policy: EscalationPolicy,
        write: Writer | None = None,
    ) -> None:
        self.table = table
        self.policy = policy
        self._write = write or self._set_item
        self._cache: dict[str, Chain] = {}
        self._dirty: dict[str, int] = {}
        self._complete = False

    def _set_item(self, coi_id: str, row: dict[str, Any], _partition: int) -> None:
        self.table[coi_id] = row

    def get(self, coi_id: str) -> Chain | None:
        chain = self._cache.get(coi_id)
        if chain is None:
            raw = self.table.get(coi_id)
            if raw is None:
                return None
            chain = self._cache[coi_id] = Chain(
                state=ChainState.model_validate(raw["state"]),
                desk=CaseDesk.model_validate(raw["desk"]),
            )
        return chain

    def put(self, chain: Chain, partition: int) -> None:
        """Keep ``chain`` (living on events ``partition``) as the latest version; durable after
        the next :meth:`flush`."""
        self._cache[chain.state.coi_id] = chain
        self._dirty[chain.state.coi_id] = partition

    def flush(self) -> int:
        """Write every chain changed since the last flush to the table; returns how many."""
        dirty, self._dirty = self._dirty, {}
        for coi_id, partition in dirty.items():
            chain = self._cache[coi_id]
            row = {
                "state": chain.state.model_dump(mode="json"),
                "desk": chain.desk.model_dump(mode="json"),
            }
            self._write(coi_id, row, partition)
        return len(dirty)

    def due(self, partition: int, now: datetime) -> Iterator[Chain]:
        """Chains of ``partition`` with a deadline or a re-escalation at or before ``now``."""
        if not self._complete:
            for coi_id in list(self.table.keys()):
                self.get(coi_id)
            self._complete = True
        for chain in list(self._cache.values()):
            if chain.state.partition != partition:
                continue
            due = chain.due_at(self.policy)
            if due is not None and due <= now:
                yield chain

    def chains(self) -> list[Chain]:
        return list(self._cache.values())

    def forget(self) -> None:
        """Drop the cache (partitions were revoked; ownership may have moved). Faust waits for
        in-flight records before revoking, so nothing is dirty here; flushed anyway."""
        self.flush()
        self._cache.clear()
        self._complete = False
