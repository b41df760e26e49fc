"""The chain store: pending records in rows of their own beside their chain's, written once and
deleted once judged; a store opened again on the same table (a restart) sees the same chains,
whatever moment a crash cut the writes at."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.bench.workload import Workload
from hub.chain.profiles import DEFAULT_PROFILE, load_profiles
from hub.events.models import Event
from hub.flow import Chain, FlowCore, Teach, ToChain, ToResolver
from hub.flow.chain import IndexEntry, is_pending_key, pending_key
from hub.flow.core import tick_event
from hub.flow.memory import MemoryIndex
from hub.partners.health import at_risk
from hub.runtime.chainstore import ChainStore, Rows
from hub.settings import REPO_ROOT

START = datetime(2026, 1, 1, tzinfo=UTC)


class Log:
    """A table with a changelog: every write recorded with its size."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.records: list[tuple[str, int | None]] = []  # key, bytes (None: tombstone)

    def write(self, key: str, row: dict[str, Any] | None, _partition: int) -> None:
        if row is None:
            self.data.pop(key, None)
            self.records.append((key, None))
        else:
            self.data[key] = row
            self.records.append((key, len(json.dumps(row))))

    @property
    def bytes(self) -> int:
        return sum(n or 0 for _, n in self.records)


def feed(core: FlowCore, store: ChainStore, exports: int, chains: int = 1) -> None:
    """``chains`` chains' pick-ups, then ``exports`` 20-row logger exports (round robin over
    the chains), one batch (flush) each."""
    work, index = Workload(chains, 20, START), MemoryIndex()
    for message in [*work.pickups(), *work.updates(exports)]:
        raw = RawMessage(message.partner, message.value, message.received_at, message.content_type)
        events: list[Event] = []
        for routed in core.ingest(raw).routed:
            if isinstance(routed, ToChain):
                events.append(routed.event)
            elif isinstance(routed, Teach):
                events.extend(core.teach(index, routed)[0])
            elif isinstance(routed, ToResolver):
                resolved = core.resolve(index, routed.key, routed.event)
                assert isinstance(resolved, Event)  # the pick-up linked the shipment
                events.append(resolved)
        for event in events:
            assert event.coi_id is not None
            step = core.on_event(store.get(event.coi_id), event, 0)
            if step.chain is not None:
                store.put(step.chain, 0)
        store.flush()


PROFILE = load_profiles(REPO_ROOT / "hub" / "chain" / "profiles")[DEFAULT_PROFILE]


def _shifted(event: Event, at: datetime) -> Event:
    """A new record like ``event``, happened and received at ``at``."""
    return event.model_copy(
        update={
            "event_id": f"{event.event_id}-later",
            "occurred_at": at,
            "recorded_at": at,
            "source": event.source.model_copy(
                update={"received_at": at, "message_id": f"{event.source.message_id}-later"}
            ),
        }
    )


def store_on(log: Log, core: FlowCore, index: Log | None = None) -> ChainStore:
    """A store on ``log``'s table, and on ``index``'s index table if given (else an empty one
    of its own: a table written before the index existed)."""
    rows = Rows.of(log.data, log.write)
    if index is None:
        return ChainStore(rows, core)
    return ChainStore(rows, core, index=Rows.of(index.data, index.write))


def test_pending_records_are_written_once_and_deleted_once_judged(core: FlowCore) -> None:
    log = Log()
    store = store_on(log, core)
    feed(core, store, 6)
    [coi] = [k for k in log.data if not is_pending_key(k)]
    chain = store.get(coi)
    assert chain is not None
    waiting = {e.event_id for e in chain.state.pending}
    assert len(waiting) > 100
    assert log.data[coi]["state"]["pending_ids"] == [e.event_id for e in chain.state.pending]
    assert "pending" not in log.data[coi]["state"]
    written = [k for k, n in log.records if n is not None and is_pending_key(k)]
    assert len(written) == len(set(written))  # each pending record written once
    assert {k for k in log.data if is_pending_key(k)} == {pending_key(coi, i) for i in waiting}

    # a tick past every record's lateness judges them all: their rows stay, unwritten, while
    # the chain may re-judge them (its recent records), named by the chain's row
    step = core.on_tick(chain, tick_event(START + timedelta(days=2), 0))
    assert step.chain is not None
    store.put(step.chain, 0)
    store.flush()
    judged = step.chain.state
    assert not judged.pending
    assert waiting <= {e.event_id for e in judged.recent}
    assert log.data[coi]["state"]["recent_count"] == len(judged.recent)
    assert judged.processed_event_ids[-len(judged.recent) :] == [e.event_id for e in judged.recent]
    assert not [k for k, n in log.records if n is None]
    written = [k for k, n in log.records if n is not None and is_pending_key(k)]
    assert len(written) == len(set(written))

    # once they are older than the chain re-judges (twice its window), a record that moves
    # the chain moves them into the base's row and deletes theirs
    later = START + timedelta(days=2) + 2 * PROFILE.rejudge_window
    step = core.on_event(step.chain, _shifted(next(iter(judged.recent)), later), 0)
    assert step.chain is not None
    store.put(step.chain, 0)
    store.flush()
    state = step.chain.state
    assert state.base is not None
    assert {pending_key(coi, i) for i in waiting} <= {k for k, n in log.records if n is None}
    base_rows = [k for k in log.data if "~base-" in k]
    assert base_rows == [pending_key(coi, log.data[coi]["state"]["base_id"])]
    again = store_on(log, core)
    assert again.get(coi) == step.chain  # the base and the records kept load as written


def test_a_store_opened_again_on_the_same_table_sees_the_same_chain(core: FlowCore) -> None:
    log = Log()
    first = store_on(log, core)
    feed(core, first, 3)
    [coi] = [k for k in log.data if not is_pending_key(k)]
    again = store_on(log, core)
    again.recover()
    before, after = first.get(coi), again.get(coi)
    assert before is not None
    assert after is not None
    assert after.state == before.state
    assert after.desk == before.desk
    assert list(again.chains()) == [after]  # pending rows are no chains


def judged_two_days_on(core: FlowCore, log: Log) -> tuple[ChainStore, Chain]:
    """Two exports fed through a store on ``log``, then the chain after a tick two days on
    (its pending records judged), not yet put back."""
    store = store_on(log, core)
    feed(core, store, 2)
    [coi] = [k for k in log.data if not is_pending_key(k)]
    chain = store.get(coi)
    assert chain is not None
    step = core.on_tick(chain, tick_event(START + timedelta(days=2), 0))
    assert step.chain is not None
    return store, step.chain


def test_a_crash_at_any_write_leaves_a_loadable_chain(core: FlowCore) -> None:
    """Replay the changelog cut after every record: each prefix loads; a chain row naming a
    record whose row is missing loads without it (its event comes again), and orphaned rows
    of judged records are deleted at load."""
    store, judged = judged_two_days_on(core, Log())
    store.put(judged, 0)
    store.flush()
    history: list[tuple[str, dict[str, Any] | None]] = []
    replay = Log()
    replay.write = lambda key, row, _p: history.append((key, row))  # type: ignore[method-assign]
    feed(core, store_on(replay, core), 2)
    for cut in range(1, len(history) + 1):
        table: dict[str, Any] = {}
        for key, row in history[:cut]:
            if row is None:
                table.pop(key, None)
            else:
                table[key] = row
        loaded = ChainStore(table, core)
        loaded.recover()
        for found in loaded.chains():
            named = set(table[found.coi_id]["state"].get("pending_ids", ()))
            assert {e.event_id for e in found.state.pending} <= named


def test_the_changelog_no_longer_grows_with_the_square_of_the_readings_in_flight(
    core: FlowCore,
) -> None:
    """The same chain, the same batches: pending records in their own rows against inline."""
    apart = Log()
    feed(core, store_on(apart, core), 12)
    inline = Log()

    class Inline(ChainStore):
        def flush(self) -> int:
            dirty, self._dirty = self._dirty, {}
            for coi_id, partition in dirty.items():
                inline.write(coi_id, self._cache[coi_id].to_row(), partition)
            return len(dirty)

    feed(core, Inline(Rows.of(inline.data, inline.write), core), 12)
    print(f"changelog bytes, 12 exports of 20 rows: inline {inline.bytes:,}, apart {apart.bytes:,}")
    assert apart.bytes * 3 < inline.bytes


def test_a_row_written_before_re_judging_loads_with_the_chain_as_judged_as_its_base(
    core: FlowCore,
) -> None:
    """A changelog row of an earlier hub names its pending records only: it loads, and the
    chain as judged then is the base it re-judges later records from."""
    _, chain = judged_two_days_on(core, Log())
    judged = chain.state
    coi = chain.coi_id
    old = chain.to_row(pending=False)
    for name in ("recent_count", "base_id", "recent_at"):
        old["state"].pop(name, None)
    table = {coi: old}
    loaded = ChainStore(table, core).get(coi)
    assert loaded is not None
    state = loaded.state
    assert state.recent == []
    assert state.base is not None
    assert state.base.frontier == judged.frontier
    assert state.base.processed_event_ids == judged.processed_event_ids
    assert state.base.pending == []
    assert state.milestones == judged.milestones


class Decodes:
    """Counts the chains decoded (``Chain.from_row``) and the rows read by a store."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chains = 0
        self.reads = 0
        decode = Chain.from_row

        def counted(row: dict[str, Any], pending: Any = None) -> Chain:
            self.chains += 1
            return decode(row, pending)

        monkeypatch.setattr(Chain, "from_row", counted)

    def reader(self, table: dict[str, Any]) -> Any:
        def read(key: str, _partition: int | None) -> dict[str, Any] | None:
            self.reads += 1
            return table.get(key)

        return read


def three_chains(core: FlowCore) -> tuple[Log, Log, ChainStore]:
    """Three chains fed through a store with an index."""
    log, index = Log(), Log()
    first = store_on(log, core, index)
    feed(core, first, 3, chains=3)
    return log, index, first


def test_a_restarted_store_answers_from_the_index_without_decoding(
    core: FlowCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gauges, audit heads and a tick with nothing due cost no chain decoded and no row read;
    a tick with work decodes the chains due, no others."""
    log, index, first = three_chains(core)
    decodes = Decodes(monkeypatch)
    rows = replace(Rows.of(log.data, log.write), read=decodes.reader(log.data))
    again = ChainStore(rows, core, index=Rows.of(index.data, index.write))
    again.recover()
    assert again.heads(0) == first.heads(0)
    assert len(again.heads(0)) == 3
    assert +again.stages == +first.stages
    assert sum(again.stages.values()) == 3
    assert +again.open_cases == +first.open_cases
    assert list(again.due(0, START)) == []
    assert (decodes.chains, decodes.reads) == (0, 0)
    later = START + timedelta(days=2)  # past every pending record's lateness
    due = list(again.due(0, later))
    assert sorted(c.coi_id for c in due) == sorted(c.coi_id for c in first.due(0, later))
    assert len(due) == decodes.chains == 3
    assert list(again.due(1, later)) == []  # another partition's chains are not its own


def test_a_silent_feeds_chains_at_risk_are_found_from_the_index_without_decoding(
    core: FlowCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partner's silence looks through every chain the worker holds for those it reported on
    with a deadline ahead: the index entries carry the feeds and deadlines, so a restarted
    worker lists the same chains at risk as the decoded states do, decoding none."""
    log, index, first = three_chains(core)
    pickup = sample_files("courier")[0].read_bytes()  # a release: custody deadlines ahead
    released = datetime.fromisoformat(json.loads(pickup)["event_time"]).astimezone(UTC)
    for event in core.ingest(RawMessage("courier", pickup, released)).events:
        assert event.coi_id is not None
        step = core.on_event(first.get(event.coi_id), event, 0)
        if step.chain is not None:
            first.put(step.chain, 0)
    first.flush()
    judged = released + timedelta(hours=6)  # past the release's lateness: judged, deadlines set
    for chain in list(first.due(0, judged)):
        step = core.on_tick(chain, tick_event(judged, 0))
        if step.chain is not None:
            first.put(step.chain, 0)
    first.flush()
    states = [c.state for c in first.chains()]
    names = {name for state in states for name in state.feeds}
    assert len(states) == 4
    assert names, "the feeds report on their chains"
    decodes = Decodes(monkeypatch)
    rows = replace(Rows.of(log.data, log.write), read=decodes.reader(log.data))
    again = ChainStore(rows, core, index=Rows.of(index.data, index.write))
    for name in sorted(names):
        expected = at_risk(states, {name}, judged)
        assert at_risk(again.briefs(), {name}, judged) == expected
    assert at_risk(again.briefs(), names, judged), "the released chain is at risk"
    assert (decodes.chains, decodes.reads) == (0, 0)


def test_a_table_without_index_rows_is_indexed_once_by_decoding(core: FlowCore) -> None:
    """Rows written before the index existed: the store decodes those chains once and writes
    their index rows; a store opened after that decodes none."""
    log = Log()
    feed(core, store_on(log, core), 2, chains=2)
    assert not [k for k in log.data if "~" in k]  # (no base yet: every pending row counted)
    index = Log()
    upgraded = store_on(log, core, index)
    upgraded.recover()
    upgraded.flush()
    cois = sorted(k for k in log.data if not is_pending_key(k))
    assert sorted(index.data) == cois
    for coi in cois:
        chain = upgraded.get(coi)
        assert chain is not None
        assert IndexEntry.from_row(coi, index.data[coi]) == IndexEntry.of(chain, 0)
    written = len(index.records)
    again = store_on(log, core, index)
    again.recover()
    again.flush()
    assert again._cache == {}  # nothing decoded
    assert len(index.records) == written  # and nothing to write


def test_an_index_row_out_of_date_is_corrected_when_its_chain_is_decoded(
    core: FlowCore,
) -> None:
    """An index row a crash left behind its chain's (a wake time already past): the tick
    decodes the chain, finds it not due after all, and the index row is written again."""
    log, index, _ = three_chains(core)
    coi = sorted(k for k in log.data if not is_pending_key(k))[1]
    true = IndexEntry.from_row(coi, index.data[coi])
    assert true.wake is not None
    index.data[coi] = replace(true, wake=START - timedelta(days=1), stage="X").to_row()
    again = store_on(log, core, index)
    again.recover()
    assert again.stages["X"] == 1
    assert list(again.due(0, START)) == []
    assert again.stages["X"] == 0
    again.flush()
    assert IndexEntry.from_row(coi, index.data[coi]) == true
    assert list(again.due(0, START)) == []


def test_an_index_row_without_its_chain_row_is_no_chain(core: FlowCore) -> None:
    log, index, _ = three_chains(core)
    index.data["COI-LOST"] = IndexEntry(coi_id="COI-LOST", partition=0, stage="X").to_row()
    again = store_on(log, core, index)
    assert again.get("COI-LOST") is None
    assert again.stages["X"] == 0
    again.flush()
    assert "COI-LOST" not in index.data


def test_a_crash_at_any_write_of_chain_and_index_leaves_them_agreeing(core: FlowCore) -> None:
    """Chain rows and index rows in one log (one disk), cut after every record: each prefix
    loads, and every chain the store holds has the index entry of its decoded row."""
    store, judged = judged_two_days_on(core, Log())
    store.put(judged, 0)
    store.flush()
    history: list[tuple[str, str, dict[str, Any] | None]] = []
    chains, index = Log(), Log()
    chains.write = lambda key, row, _p: history.append(("chains", key, row))  # type: ignore[method-assign]
    index.write = lambda key, row, _p: history.append(("index", key, row))  # type: ignore[method-assign]
    feed(core, store_on(chains, core, index), 3, chains=2)
    for cut in range(1, len(history) + 1):
        tables: dict[str, dict[str, Any]] = {"chains": {}, "index": {}}
        for table, key, row in history[:cut]:
            if row is None:
                tables[table].pop(key, None)
            else:
                tables[table][key] = row
        loaded = ChainStore(tables["chains"], core, index=tables["index"])
        held = list(loaded.chains())
        loaded.flush()
        for found in held:
            named = set(tables["chains"][found.coi_id]["state"].get("pending_ids", ()))
            assert {e.event_id for e in found.state.pending} <= named
            entry = IndexEntry.from_row(found.coi_id, tables["index"][found.coi_id])
            assert entry == IndexEntry.of(found, 0)
        assert sorted(tables["index"]) == sorted(k for k in tables["chains"] if " " not in k)


def test_an_index_row_ahead_of_its_chain_row_is_told_apart_in_memory(core: FlowCore) -> None:
    """A table in memory recovers each changelog apart: a crash may keep a flush's index row
    and lose its chain row. The row's number tells: the chain is decoded and due as its row
    says, not as the index says."""
    log, index, first = three_chains(core)
    coi = sorted(k for k in log.data if not is_pending_key(k))[0]
    old_row = dict(log.data[coi])
    later = START + timedelta(days=2)
    chain = first.get(coi)
    assert chain is not None
    assert first.core.due(chain, later)
    step = core.on_tick(chain, tick_event(later, 0))
    assert step.chain is not None
    first.put(step.chain, 0)
    first.flush()
    assert IndexEntry.from_row(coi, index.data[coi]).due_at(core.policy) != chain.due_at(
        core.policy
    )
    log.data[coi] = old_row  # the chain row lost, its index row kept
    again = store_on(log, core, index)
    assert coi in {c.coi_id for c in again.due(0, later)}
