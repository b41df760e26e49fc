"""The chain store: pending records in rows of their own, written once and deleted once judged;
a store opened again on the same tables (a restart) sees the same chains."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import RawMessage
from hub.bench.workload import Workload
from hub.events.models import Event
from hub.flow import FlowCore, Teach, ToChain, ToResolver
from hub.flow.core import tick_event
from hub.flow.memory import MemoryIndex
from hub.runtime.chainstore import ChainStore
from hub.settings import REPO_ROOT

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def core() -> FlowCore:
    return FlowCore.from_files(
        REPO_ROOT / "hub" / "chain" / "profiles",
        REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml",
        b"test-key",
    )


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


def feed(core: FlowCore, store: ChainStore, exports: int) -> None:
    """One chain's pick-up and ``exports`` 20-row logger exports, one batch (flush) each."""
    work, index = Workload(1, 20, START), MemoryIndex()
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


def test_pending_records_are_written_once_and_deleted_once_judged(core: FlowCore) -> None:
    rows, pending = Log(), Log()
    store = ChainStore(
        rows.data, core, rows.write, pending=pending.data, write_pending=pending.write
    )
    feed(core, store, 6)
    [coi] = list(rows.data)
    chain = store.get(coi)
    assert chain is not None
    waiting = {e.event_id for e in chain.state.pending}
    assert len(waiting) > 100
    assert rows.data[coi]["state"]["pending_ids"] == [e.event_id for e in chain.state.pending]
    assert "pending" not in rows.data[coi]["state"]
    written = [k for k, n in pending.records if n is not None]
    assert len(written) == len(set(written))  # each pending record written once
    assert set(pending.data) == {f"{coi}|{i}" for i in waiting}

    # a tick past every record's lateness judges them all: their rows are deleted
    tick = tick_event(START + timedelta(days=2), 0)
    step = core.on_tick(chain, tick)
    assert step.chain is not None
    store.put(step.chain, 0)
    store.flush()
    assert not step.chain.state.pending
    assert pending.data == {}
    assert {k for k, n in pending.records if n is None} == {f"{coi}|{i}" for i in waiting}


def test_a_store_opened_again_on_the_same_tables_sees_the_same_chain(core: FlowCore) -> None:
    rows, pending = Log(), Log()
    first = ChainStore(
        rows.data, core, rows.write, pending=pending.data, write_pending=pending.write
    )
    feed(core, first, 3)
    again = ChainStore(
        rows.data, core, rows.write, pending=pending.data, write_pending=pending.write
    )
    [coi] = list(rows.data)
    before, after = first.get(coi), again.get(coi)
    assert before is not None
    assert after is not None
    assert after.state == before.state
    assert after.desk == before.desk


def test_a_row_naming_a_pending_record_that_is_not_stored_fails_loudly(core: FlowCore) -> None:
    rows, pending = Log(), Log()
    feed(
        core,
        ChainStore(rows.data, core, rows.write, pending=pending.data, write_pending=pending.write),
        1,
    )
    pending.data.pop(next(iter(pending.data)))
    with pytest.raises(KeyError, match="are not stored"):
        ChainStore(
            rows.data, core, rows.write, pending=pending.data, write_pending=pending.write
        ).get(next(iter(rows.data)))


def test_the_changelog_no_longer_grows_with_the_square_of_the_readings_in_flight(
    core: FlowCore,
) -> None:
    """The same chain, the same batches: pending records in their own rows against inline."""
    rows, pending = Log(), Log()
    feed(
        core,
        ChainStore(rows.data, core, rows.write, pending=pending.data, write_pending=pending.write),
        12,
    )
    inline = Log()

    class Inline(ChainStore):
        def flush(self) -> int:
            dirty, self._dirty = self._dirty, {}
            for coi_id, partition in dirty.items():
                inline.write(coi_id, self._cache[coi_id].to_row(), partition)
            return len(dirty)

    feed(core, Inline(inline.data, core, inline.write), 12)
    apart = rows.bytes + pending.bytes
    print(f"changelog bytes, 12 exports of 20 rows: inline {inline.bytes:,}, apart {apart:,}")
    assert apart * 3 < inline.bytes
