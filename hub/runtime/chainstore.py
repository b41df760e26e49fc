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

Records a chain holds pending (judged once their allowed lateness passed) are rows of their own
in the same table, one per record (key ``<COI> <event id>``, :func:`hub.flow.chain.pending_key`;
a COI holds no space), written once when the record arrives and deleted once it is judged; the
chain's row names them by id. A chain with a few hundred pending logger readings thus costs one
small changelog record per change, not a rewrite of every reading it still waits on (that
rewrite made the changelog, and so a restart's recovery, grow with the square of the readings in
flight). One table, so one changelog partition per chain: a record's row is always in the log
before the chain row that names it, a crash at any moment leaves a consistent pair. Should a
named record still be missing, the chain loads without it (logged): its event, not yet
acknowledged, comes again.

A judged record stays in its row while the chain may still re-judge it (its recent records,
:mod:`hub.chain.engine`), and the chain's base (the chain as judged before them) has a row of its
own too (key ``<COI> ~base-<n>``), written once per base: re-judging costs the changelog one
tombstone per record later than before, and one base row per re-judging window, not a bigger
chain row. A chain whose recent records or base are missing loads with the chain as judged as
its base (it re-judges what arrives from then on).

The stage gauge counts the chains this worker holds, those recovered from the changelog
included: :meth:`load_all` decodes every row of the assigned partitions once, and from then on
every change of stage moves the count. The open-case tally (``(severity, code, sla)`` of every
case not closed, from each row's case desk) is kept the same way, for the ``v2v_cases_open``
gauge.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from datetime import datetime
from typing import Any

from hub.flow import Chain, FlowCore
from hub.flow.chain import base_id, is_pending_key, pending_key, recent_ids
from hub.partners.health import is_feed_key

log = logging.getLogger("v2v.runtime")

Writer = Callable[[str, dict[str, Any] | None, int], None]
"""``write(key, row, partition)``: store one row (None: delete it), its changelog record on
``partition``."""
StageGauge = Callable[[dict[str, int]], None]
CaseGauge = Callable[[dict[tuple[str, str, str], int]], None]


def _set_item(table: MutableMapping[str, Any]) -> Writer:
    def write(key: str, row: dict[str, Any] | None, _partition: int) -> None:
        if row is None:
            table.pop(key, None)
        else:
            table[key] = row

    return write


class ChainStore:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        core: FlowCore,
        write: Writer | None = None,
        on_stages: StageGauge | None = None,
        on_cases: CaseGauge | None = None,
    ) -> None:
        self.table = table
        self.core = core
        self._write = write or _set_item(table)
        self._on_stages = on_stages
        self._cache: dict[str, Chain] = {}
        self._stored: dict[str, frozenset[str]] = {}  # COI -> its pending records' rows
        self._dirty: dict[str, int] = {}
        self._complete = False
        self.stages: Counter[str] = Counter()
        self._on_cases = on_cases
        self.open_cases: Counter[tuple[str, str, str]] = Counter()

    def get(self, coi_id: str) -> Chain | None:
        chain = self._cache.get(coi_id)
        if chain is None:
            raw = self.table.get(coi_id)
            if raw is None:
                return None
            chain = self._cache[coi_id] = Chain.from_row(raw, self.table)
            row = raw["state"]
            named = frozenset(
                [*row.get("pending_ids", ()), *recent_ids(row, row.get("recent_count"))]
                + ([row["base_id"]] if row.get("base_id") else [])
            )
            self._stored[coi_id] = named
            missing = [k for k in named if self.table.get(pending_key(coi_id, k)) is None]
            if missing:
                log.error(
                    "chain %s: %d records or its base missing from the table (loaded without "
                    "them; records judged before are no longer re-judged)",
                    coi_id,
                    len(missing),
                )
            if not is_feed_key(coi_id):
                self.stages[chain.state.stage] += 1
            self.open_cases.update(chain.desk.open_cases())
        return chain

    def put(self, chain: Chain, partition: int) -> None:
        """Keep ``chain`` (living on events ``partition``) as the latest version; durable after
        the next :meth:`flush`."""
        known = self._cache.get(chain.coi_id)
        if not is_feed_key(chain.coi_id):  # a partner feed's row is no chain
            if known is not None:
                self.stages[known.state.stage] -= 1
            self.stages[chain.state.stage] += 1
        if known is not None:
            self.open_cases.subtract(known.desk.open_cases())
        self.open_cases.update(chain.desk.open_cases())
        self._cache[chain.coi_id] = chain
        self._dirty[chain.coi_id] = partition

    def flush(self) -> int:
        """Write every chain changed since the last flush to the table; returns how many."""
        dirty, self._dirty = self._dirty, {}
        for coi_id, partition in dirty.items():
            chain = self._cache[coi_id]
            state = chain.state
            rows: dict[str, Any] = {e.event_id: e for e in (*state.pending, *state.recent)}
            base = base_id(state)
            if base is not None:
                rows[base] = state.base
            stored = self._stored.get(coi_id, frozenset())
            for key in rows.keys() - stored:  # first the records (and base) the row will name
                self._write(pending_key(coi_id, key), rows[key].model_dump(mode="json"), partition)
            self._write(coi_id, chain.to_row(pending=False), partition)
            for key in stored - rows.keys():  # judged and past re-judging: no longer needed
                self._write(pending_key(coi_id, key), None, partition)
            self._stored[coi_id] = frozenset(rows)
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
        if self._on_cases is not None:
            self._on_cases(dict(self.open_cases))
        return len(dirty)

    def load_all(self) -> None:
        """Decode every row of the assigned partitions (once per assignment)."""
        if not self._complete:
            keys = list(self.table.keys())
            for coi_id in keys:
                if not is_pending_key(coi_id):
                    self.get(coi_id)
            for key in keys:  # a crash between a chain's row and its deletions left these
                coi_id, _, event_id = key.partition(" ")
                chain = self._cache.get(coi_id)
                if event_id and chain is not None and event_id not in self._stored[coi_id]:
                    self._write(key, None, chain.state.partition or 0)
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
        self._stored.clear()
        self._complete = False
        self.stages = Counter({stage: 0 for stage in self.stages})
        self.open_cases = Counter({key: 0 for key in self.open_cases})
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
        if self._on_cases is not None:
            self._on_cases(dict(self.open_cases))
