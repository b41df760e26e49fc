"""The chain table with a decoded cache and a due-deadline view for clock ticks.

The Faust table (JSON changelog) is the durable store; this worker keeps the decoded
:class:`ChainState` of the chains it has touched so a tick does not re-validate every chain.
The cache is dropped on every partition revocation, so it never outlives ownership.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from datetime import datetime
from typing import Any

from hub.chain.state import ChainState


class ChainStore:
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._cache: dict[str, ChainState] = {}
        self._complete = False

    def get(self, coi_id: str) -> ChainState | None:
        state = self._cache.get(coi_id)
        if state is None:
            raw = self.table.get(coi_id)
            if raw is None:
                return None
            state = self._cache[coi_id] = ChainState.model_validate(raw)
        return state

    def put(self, state: ChainState) -> None:
        self._cache[state.coi_id] = state
        self.table[state.coi_id] = state.model_dump(mode="json")

    def due(self, partition: int, now: datetime) -> Iterator[ChainState]:
        """Chains of ``partition`` with a deadline at or before ``now``."""
        if not self._complete:
            for coi_id in list(self.table.keys()):
                self.get(coi_id)
            self._complete = True
        for state in list(self._cache.values()):
            nxt = state.next_deadline
            if state.partition == partition and nxt is not None and nxt.due_at <= now:
                yield state

    def states(self) -> list[ChainState]:
        return list(self._cache.values())

    def forget(self) -> None:
        """Drop the cache (partitions were revoked; ownership may have moved)."""
        self._cache.clear()
        self._complete = False
