"""The chain table with a decoded cache, an index of every chain in brief, a due view for clock
ticks and the stage and open-case gauges.

One table row per chain (key: COI) holds a :class:`hub.flow.Chain` (engine state and case
desk). The Faust table (JSON changelog) is the durable store; the decoded cache spares a tick
from re-validating every chain. The cache and the index entries are dropped on every partition
revocation, so they never outlive ownership.

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

A restarted worker must not decode every chain before it processes again (pydantic over every
row and the rows it names: minutes at 100 000 chains). So each chain has a row in a second
table, the **index** (``chain-index``, same key, same partition, same store kind: a
:class:`hub.flow.chain.IndexEntry`): its partition, stage, when a tick next has work on it (its
wake time and the escalation marks of its open cases, judged against the policy of the day),
its open-case tally, its audit head, how many rows of its own its row names, and the feeds
that reported on it with its deadlines. A flush writes
it, only when it changed, right after the chain's row, under a new number that the chain's row
names (``index_version``). :meth:`ChainStore.recover` (once per assignment) reads the index of
the assigned partitions and the chain table's keys (not its values); from them come the stage
gauge (the chains this worker holds, those recovered from the changelog included), the
open-case tally behind ``v2v_cases_open``, the audit heads a checkpoint signs (:meth:`heads`),
the chains a tick reaches (:meth:`due`: only those due are decoded) and the chains a partner
feed's silence puts at risk (:meth:`briefs`). A chain is decoded when an event, a command or a
tick needs it, or :meth:`chains` is asked for it (the read-model rebuild of a lost partition),
and read from its own partition's rows.

Recovery decodes a chain only when the index does not account for it: no index row (rows
written before the index existed: decoded once, their index rows written at the next flush), an
unreadable one, a count of the chain's own rows in the table that differs from the entry's, or
(a table in memory, where the row is at hand undecoded) a row that names another number than
its entry. Decoding a chain always corrects its entry, and an index row that disagrees is
written again at the next flush; an index row whose chain row is missing is no chain (deleted).

What a crash leaves: with RocksDB both tables are written to the worker's disk in this order
(record rows, chain row, index row, deletions), so an index row is never ahead of its chain's.
One behind is corrected when the batch's records, not acknowledged, come again: an event or a
command decodes its chain, and a tick reaches every chain the older entry made due. Rows a crash
left behind (records without the chain row naming them, records the row no longer names) change
the count: the chain is decoded and the rows its row does not name are deleted; in the rare cut
where the counts agree they stay, unread. With ``memory`` the two changelogs are recovered apart,
so a crash may keep either one's last records and lose the other's: the numbers tell an index
row that is ahead (or behind) of its chain's row, and the chain is decoded. Records of a chain
whose own row was never written stay until their event comes again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.flow import Chain, FlowCore
from hub.flow.chain import IndexEntry, pending_key, recent_ids, row_ids
from hub.partners.health import is_feed_key

log = logging.getLogger("v2v.runtime")

Writer = Callable[[str, dict[str, Any] | None, int], None]
"""``write(key, row, partition)``: store one row (None: delete it), its changelog record on
``partition``."""
VERSION = "index_version"  # the chain row's name for the number of its index entry
Reader = Callable[[str, int | None], dict[str, Any] | None]
"""``read(key, partition)``: one row (None: there is none) from ``partition``'s rows (None: the
partition is not known)."""
StageGauge = Callable[[dict[str, int]], None]
CaseGauge = Callable[[dict[tuple[str, str, str], int]], None]


@dataclass(frozen=True)
class Rows:
    """How the store reaches one table: ``write`` and ``read`` a row with its partition, and
    the keys and rows of the assigned partitions (``scan_keys``, ``scan_items``) (for a Faust table:
    :func:`hub.runtime.tablestore.table_rows`)."""

    write: Writer
    read: Reader
    scan_keys: Callable[[], Iterable[str]]
    scan_items: Callable[[], Iterable[tuple[str, Any]]]
    peek: Callable[[str], Any] | None = None
    """A row as the table holds it, when that costs no decoding (a table in memory)."""

    @classmethod
    def of(cls, table: MutableMapping[str, Any], write: Writer | None = None) -> Rows:
        """A plain mapping's rows (the partition is not kept), ``write`` instead of setting
        its items if given."""

        def set_item(key: str, row: dict[str, Any] | None, _partition: int) -> None:
            if row is None:
                table.pop(key, None)
            else:
                table[key] = row

        def read(key: str, _partition: int | None) -> Any:
            return table.get(key)

        every = (lambda: list(table), lambda: list(table.items()))
        return cls(write or set_item, read, *every, peek=table.get)


def _same(one: IndexEntry | None, other: IndexEntry | None) -> bool:
    """The same entry, numbered alike."""
    if one is None or other is None:
        return one is other
    return one == other and one.version == other.version


class ChainStore:
    def __init__(
        self,
        table: MutableMapping[str, Any] | Rows,
        core: FlowCore,
        on_stages: StageGauge | None = None,
        on_cases: CaseGauge | None = None,
        *,
        index: MutableMapping[str, Any] | Rows | None = None,
    ) -> None:
        """The chains in ``table`` and their entries in ``index`` (an empty mapping of its own
        when not given: every chain is decoded once at recovery)."""
        self.rows = table if isinstance(table, Rows) else Rows.of(table)
        self.index = index if isinstance(index, Rows) else Rows.of({} if index is None else index)
        self.core = core
        self._on_stages = on_stages
        self._on_cases = on_cases
        self._cache: dict[str, Chain] = {}  # decoded chains
        self._stored: dict[str, frozenset[str]] = {}  # COI -> its pending records' rows
        self._dirty: dict[str, int] = {}
        self._entries: dict[str, IndexEntry] = {}  # every chain of the assigned partitions
        self._partitions: dict[int, set[str]] = {}  # partition -> its chains' COIs
        self._indexed: dict[str, IndexEntry] = {}  # the entries as the index table holds them
        self._stale: set[str] = set()  # COIs whose index row no longer matches their entry
        self._recovered = False
        self.stages: Counter[str] = Counter()
        self.open_cases: Counter[tuple[str, str, str]] = Counter()

    def get(self, coi_id: str) -> Chain | None:
        chain = self._cache.get(coi_id)
        if chain is not None:
            return chain
        self.recover()
        entry = self._entries.get(coi_id)
        return None if entry is None else self._decode(coi_id, entry.partition)

    def _decode(self, coi_id: str, partition: int | None) -> Chain | None:
        """The chain's row (and the rows it names) decoded into the cache; its entry corrected
        when the index held another (a crash between the two tables' writes)."""
        raw = self.rows.read(coi_id, partition)
        if raw is None:  # an index row whose chain row a crash lost: no chain
            self._leave(coi_id)
            return None
        row = raw["state"]
        if partition is None:
            partition = row.get("partition")
        named = frozenset(
            [*row.get("pending_ids", ()), *recent_ids(row, row.get("recent_count"))]
            + ([row["base_id"]] if row.get("base_id") else [])
        )
        keys = [pending_key(coi_id, k) for k in named]
        rows = {key: self.rows.read(key, partition) for key in keys}
        chain = self._cache[coi_id] = Chain.from_row(raw, rows)
        self._stored[coi_id] = named
        missing = [k for k, found in rows.items() if found is None]
        if missing:
            log.error(
                "chain %s: %d records or its base missing from the table (loaded without "
                "them; records judged before are no longer re-judged)",
                coi_id,
                len(missing),
            )
        version = int(raw.get(VERSION) or 0)
        self._enter(replace(IndexEntry.of(chain, partition or 0), version=version))
        return chain

    def _enter(self, entry: IndexEntry) -> None:
        """``entry`` for its chain, in the counts and the partition's chains."""
        coi_id = entry.coi_id
        known = self._entries.get(coi_id)
        if _same(known, entry):
            return
        if known is not None:
            self._leave(coi_id)
        self._entries[coi_id] = entry
        self._partitions.setdefault(entry.partition, set()).add(coi_id)
        self._count(entry, 1)
        if not _same(self._indexed.get(coi_id), entry):
            self._stale.add(coi_id)

    def _leave(self, coi_id: str) -> None:
        known = self._entries.pop(coi_id, None)
        if known is not None:
            self._partitions.get(known.partition, set()).discard(coi_id)
            self._count(known, -1)
            self._stale.add(coi_id)

    def _count(self, entry: IndexEntry, sign: int) -> None:
        if not is_feed_key(entry.coi_id):  # a partner feed's row is no chain
            self.stages[entry.stage] += sign
        for tally, n in entry.open_cases:
            self.open_cases[tally] += sign * n

    def put(self, chain: Chain, partition: int) -> None:
        """Keep ``chain`` (living on events ``partition``) as the latest version; durable after
        the next :meth:`flush`."""
        known = self._entries.get(chain.coi_id)
        version = known.version if known is not None else 0  # the one its row names
        self._enter(replace(IndexEntry.of(chain, partition), version=version))
        self._cache[chain.coi_id] = chain
        self._dirty[chain.coi_id] = partition

    def flush(self) -> int:
        """Write every chain changed since the last flush to the table, and its index row when
        its entry changed; returns how many chains."""
        dirty, self._dirty = self._dirty, {}
        for coi_id, partition in dirty.items():
            chain = self._cache[coi_id]
            rows = row_ids(chain.state)
            stored = self._stored.get(coi_id, frozenset())
            for key in rows.keys() - stored:  # first the records (and base) the row will name
                self.rows.write(
                    pending_key(coi_id, key), rows[key].model_dump(mode="json"), partition
                )
            entry, indexed = self._entries[coi_id], self._indexed.get(coi_id)
            if not _same(indexed, entry):  # a new entry: a new number, named by the row
                latest = max(entry.version, indexed.version if indexed is not None else 0)
                entry = self._entries[coi_id] = replace(entry, version=latest + 1)
            row = chain.to_row(pending=False)
            row[VERSION] = entry.version
            self.rows.write(coi_id, row, partition)
            self._write_entry(coi_id)  # after the row: see the module's docstring
            for key in stored - rows.keys():  # judged and past re-judging: no longer needed
                self.rows.write(pending_key(coi_id, key), None, partition)
            self._stored[coi_id] = frozenset(rows)
        for coi_id in list(self._stale):
            self._write_entry(coi_id)
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
        if self._on_cases is not None:
            self._on_cases(dict(self.open_cases))
        return len(dirty)

    def _write_entry(self, coi_id: str) -> None:
        self._stale.discard(coi_id)
        entry, indexed = self._entries.get(coi_id), self._indexed.get(coi_id)
        if _same(entry, indexed):
            return
        if entry is not None:
            self.index.write(coi_id, entry.to_row(), entry.partition)
            self._indexed[coi_id] = entry
        elif indexed is not None:
            self.index.write(coi_id, None, indexed.partition)
            del self._indexed[coi_id]

    def recover(self) -> None:
        """Know the chains of the assigned partitions (once per assignment) from the index,
        decoding only those it does not account for."""
        if self._recovered:
            return
        for coi_id, row in self.index.scan_items():
            try:
                entry = IndexEntry.from_row(coi_id, row)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("chain %s: index row unreadable, the chain is decoded: %s", coi_id, exc)
                continue
            self._indexed[coi_id] = entry
            self._enter(entry)
        rows_of: dict[str, list[str]] = {}  # COI -> the keys of the rows its row may name
        chains: set[str] = set()
        for key in self.rows.scan_keys():
            coi_id, _, event_id = key.partition(" ")
            if event_id:
                rows_of.setdefault(coi_id, []).append(key)
            else:
                chains.add(key)
        for coi_id in [c for c in self._entries if c not in chains]:  # its chain row was lost
            self._leave(coi_id)
        for coi_id in chains:
            keys = rows_of.get(coi_id, [])
            known = self._entries.get(coi_id)
            if known is not None and known.rows == len(keys) and self._matches(known):
                continue
            chain = self._decode(coi_id, known.partition if known is not None else None)
            if chain is None:
                continue
            partition = self._entries[coi_id].partition
            for key in keys:  # a crash between a chain's row and its deletions left these
                if key.partition(" ")[2] not in self._stored[coi_id]:
                    self.rows.write(key, None, partition)
        self._recovered = True

    def _matches(self, entry: IndexEntry) -> bool:
        """Whether the chain's row names ``entry``'s number, when that is cheap to tell."""
        if self.rows.peek is None:
            return True
        raw = self.rows.peek(entry.coi_id)
        return raw is None or int(raw.get(VERSION) or 0) == entry.version

    def due(self, partition: int, now: datetime) -> Iterator[Chain]:
        """Chains of ``partition`` with a deadline or a re-escalation at or before ``now``:
        found in brief, only those decoded."""
        self.recover()
        for coi_id in list(self._partitions.get(partition, ())):
            entry = self._entries.get(coi_id)
            if entry is None or not self.core.due(entry, now):
                continue
            chain = self.get(coi_id)
            if chain is not None and self.core.due(chain, now):
                yield chain

    def heads(self, partition: int) -> dict[str, tuple[int, str]]:
        """The audit head (seq, hash) of every chain of ``partition`` with a record."""
        self.recover()
        entries = (self._entries[c] for c in self._partitions.get(partition, ()))
        return {e.coi_id: e.audit for e in entries if e.audit is not None}

    def briefs(self) -> list[IndexEntry]:
        """Every chain this worker holds, in brief (nothing decoded): what a partner feed's
        silence looks through for the chains at risk."""
        self.recover()
        return list(self._entries.values())

    def chains(
        self, partitions: Collection[int] | None = None, cois: Collection[str] = ()
    ) -> Iterator[Chain]:
        """Every chain this worker holds, or those of ``partitions`` and ``cois``, each decoded
        as it is reached when not yet (a caller that awaits between them lets the worker go on
        processing meanwhile)."""
        self.recover()
        wanted = [
            coi_id
            for coi_id, entry in self._entries.items()
            if partitions is None or entry.partition in partitions or coi_id in cois
        ]
        for coi_id in wanted:
            chain = self._cache.get(coi_id)
            entry = self._entries.get(coi_id)
            if chain is None and entry is not None:  # (none: revoked meanwhile)
                chain = self._decode(coi_id, entry.partition)
            if chain is not None:
                yield chain

    def forget(self) -> None:
        """Drop what is known of the chains (partitions were revoked; ownership may have moved).
        Faust waits for in-flight records before revoking, so nothing is dirty here; flushed
        anyway."""
        self.flush()
        for known in (self._cache, self._stored, self._entries, self._partitions, self._indexed):
            known.clear()
        self._stale.clear()
        self._recovered = False
        self.stages = Counter({stage: 0 for stage in self.stages})
        self.open_cases = Counter({key: 0 for key in self.open_cases})
        if self._on_stages is not None:
            self._on_stages(dict(self.stages))
        if self._on_cases is not None:
            self._on_cases(dict(self.open_cases))
