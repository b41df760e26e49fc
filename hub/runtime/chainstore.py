"""The chain table with a decoded cache and a due view for clock ticks.

One table row per chain (key: COI) holds the engine's :class:`ChainState` and the chain's
:class:`CaseDesk`, so events, commands and ticks of a chain are applied in one order by the one
worker that owns its partition. The Faust table (JSON changelog) is the durable store; the
decoded cache spares a tick from re-validating every chain. The cache is dropped on every
partition revocation, so it never outlives ownership.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
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


class ChainStore:
    def __init__(self, table: MutableMapping[str, Any], policy: EscalationPolicy) -> None:
        self.table = table
        self.policy = policy
        self._cache: dict[str, Chain] = {}
        self._complete = False

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

    def put(self, chain: Chain) -> None:
        self._cache[chain.state.coi_id] = chain
        self.table[chain.state.coi_id] = {
            "state": chain.state.model_dump(mode="json"),
            "desk": chain.desk.model_dump(mode="json"),
        }

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
        """Drop the cache (partitions were revoked; ownership may have moved)."""
        self._cache.clear()
        self._complete = False
