"""Where the chain table lives on the worker's disk, and how a flushed row reaches it.

``V2V_TABLE_STORE=memory`` (the default) keeps the chain table in memory: a restarted worker
reads its partitions' whole changelog before it processes again, so a restart takes longer the
more chains it holds. ``rocksdb`` keeps it in RocksDB under ``V2V_DATA_DIR`` (Faust's store,
through ``rocksdict``) with each partition's changelog offset: a restarted worker with its
volume reads only the changelog written since, whatever the number of chains. The chart runs
the worker this way (a StatefulSet with a volume per pod).

:class:`hub.runtime.chainstore.ChainStore` flushes a batch's rows at the batch's end, outside
the record Faust would take the partition from. Faust's RocksDB store finds a row's partition
database only from that record, so :func:`row_writer` writes the partition's database itself,
as the store's own changelog recovery does (encoded key and value, the key index kept), and
:func:`row_reader` reads it (the store's ``get`` outside a record searches every partition
database; within a batch it takes the partition of the batch's last record). The chain index
(``chain-index``) lives in the same kind of store, so a restarted worker with its volume finds
it there too and decodes no chain to start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from hub.runtime.chainstore import Reader, Rows, Writer


def store_url(kind: str, table: str) -> str | None:
    """The ``store`` of a table: None for the app's (memory), else RocksDB files named after
    the table. (A bare ``rocksdb://`` is a false URL to Faust, which then takes the app's.)"""
    return f"rocksdb:{table}" if kind == "rocksdb" else None


def row_writer(table: Any) -> Writer:
    """``write(key, row, partition)`` on a Faust table: the changelog record on ``partition``
    and the row in the table's store (None deletes both ways)."""
    store = table.data
    partition_db = getattr(store, "_db_for_partition", None)

    def write(key: str, row: dict[str, Any] | None, partition: int) -> None:
        if row is None:
            table.send_changelog(partition, key, None, value_serializer="raw")
        else:
            table.send_changelog(partition, key, row)
        if partition_db is None:  # memory: a dict
            if row is None:
                store.pop(key, None)
            else:
                store[key] = row
                # as the store's recovery does: the key goes with its partition when revoked
                getattr(store, "_key_partition", {})[key] = partition
            return
        raw_key = store._encode_key(key)
        db = partition_db(partition)
        if row is None:
            db.delete(raw_key)
            store._key_index.pop(raw_key, None)
        else:
            db.put(raw_key, store._encode_value(row))
            store._key_index[raw_key] = partition

    return write


def row_reader(table: Any) -> Reader:
    """``read(key, partition)`` on a Faust table: the row, or None. With RocksDB only the
    partition's database is read (any assigned one when ``partition`` is None): Faust's own
    ``get`` outside a record searches every partition database for a key it has not seen, and
    within a batch of records takes the partition of the last record read, not the key's."""
    store = table.data
    dbs = getattr(store, "_dbs", None)
    if dbs is None:  # memory: a dict
        return lambda key, _partition: store.get(key)

    def read(key: str, partition: int | None) -> dict[str, Any] | None:
        raw_key = store._encode_key(key)
        if partition is None:
            where = list(store._dbs_for_actives())
        else:
            where = [dbs[partition]] if partition in dbs else []
        for db in where:
            value = db.get(raw_key)
            if value is not None:
                row: dict[str, Any] = _value_of(store)(value)
                return row
        return None

    return read


def table_rows(table: Any) -> Rows:
    """A Faust table as :class:`hub.runtime.chainstore.Rows`: :func:`row_writer`,
    :func:`row_reader`, and its keys and rows of the assigned partitions. With RocksDB these are
    read straight from the partition databases, JSON keys decoded without Faust's serializer
    registry (a restart lists every key of the chain table: hundreds of thousands)."""
    store = table.data
    if getattr(store, "_dbs", None) is None:  # memory: a dict
        return Rows(
            row_writer(table), row_reader(table), lambda: list(store), lambda: list(store.items())
        )
    key_of: Callable[[bytes], str] = (
        _json_text if store.key_serializer == "json" else store._decode_key
    )
    value_of = _value_of(store)

    def keys() -> Iterator[str]:
        for db in store._dbs_for_actives():
            for raw in store._visible_keys(db):
                yield key_of(raw)

    def items() -> Iterator[tuple[str, Any]]:
        for db in store._dbs_for_actives():
            for raw, value in store._visible_items(db):
                yield key_of(raw), value_of(value)

    return Rows(row_writer(table), row_reader(table), keys, items)


def _value_of(store: Any) -> Callable[[bytes], Any]:
    """How to decode ``store``'s values: a JSON row as it is (Faust's registry would look it
    over for a model of its own, which a row never names)."""
    decode: Callable[[bytes], Any] = (
        json.loads if store.value_serializer == "json" else store._decode_value
    )
    return decode


def _json_text(raw: bytes) -> str:
    """A JSON string: a string without escapes is its characters between the quotes."""
    if raw[:1] == b'"' and raw[-1:] == b'"' and b"\\" not in raw:
        return raw[1:-1].decode("utf-8")
    text: str = json.loads(raw)
    return text
