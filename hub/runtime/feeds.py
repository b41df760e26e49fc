"""Partner feed health in the worker, whichever worker reads a partner's messages.

A feed's row (key ``partner:<id>``) lives in the chains table on the partition Kafka's default
partitioner gives its key (:func:`home_partition`): the partition a command on one of its cases
is produced to (the HTTP view keys a command by the case's COI), so the row, its commands and
its ticks are taken by one agent in one order, and the row survives a restart in the changelog
like any chain's.

The raw messages of a partner are read by whichever worker holds their raw partitions, so the
normalise agent does not judge what it hears: for each raw message it writes a *heard note*
(:class:`HeardNote`, JSON) to the feeds topic, on the row's partition, signed like a tick
(:mod:`hub.ticks`: only the hub writes it). The chain agent of the worker holding the row
counts the note in the row (:meth:`hub.flow.FlowCore.on_feed_heard`; a note read again after a
crash is recognised by its raw offset and counted once), and judges the row at each tick on
the feeds topic (:meth:`FeedWatch.on_tick`). Ticks go to the feeds topic as well as to the
events topic: in one partition, a tick comes after every note written before it, so a tick sees
every message heard before it was sent, as a chain's tick sees its events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from hub.events.models import Event, Frozen, UtcDatetime
from hub.flow import Chain, FlowCore, Step
from hub.metrics import Metrics
from hub.partners.health import feed_key
from hub.runtime.chainstore import ChainStore

KIND_HEARD = b"heard"
"""``v2v.kind`` of a heard note on the feeds topic (a tick carries none)."""


def home_partition(key: str, partitions: int) -> int:
    """The partition the producer's default partitioner (murmur2, as Faust's and the Java
    client's) gives ``key``."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), every, every))


class HeardNote(Frozen):
    """One raw message of ``partner`` read by a normalise agent: when the hub received it,
    whether it was dead-lettered (wholly or in part) and where it was read (``source``:
    ``<raw topic>:<partition>``, ``offset``)."""

    partner: str
    received_at: UtcDatetime
    dead: bool
    source: str
    offset: int


class FeedWatch:
    """The feeds' home partitions, and what a heard note or a tick does to their rows."""

    def __init__(self, core: FlowCore, metrics: Metrics, partitions: int) -> None:
        self.core, self.metrics = core, metrics
        self.home = {p: home_partition(feed_key(p), partitions) for p in core.feeds}

    def note(self, partner: str, received_at: datetime, dead: bool, topic: str,
             partition: int, offset: int) -> tuple[int, bytes] | None:  # fmt: skip
        """The heard note of one raw message, and the partition it goes to (None: the hub
        does not watch ``partner``'s feed)."""
        if dead:
            self.metrics.feed_dead_lettered.labels(partner).inc()
        home = self.home.get(partner)
        if home is None:
            return None
        note = HeardNote(partner=partner, received_at=received_at, dead=dead,
                         source=f"{topic}:{partition}", offset=offset)  # fmt: skip
        return home, note.model_dump_json().encode()

    def on_note(self, store: ChainStore, value: bytes, partition: int) -> Step:
        """A heard note read on the feeds topic, counted in its feed's row (ValueError, with
        pydantic's reason, when the value is no note)."""
        note = HeardNote.model_validate_json(value)
        row = store.get(feed_key(note.partner))
        step = self.core.on_feed_heard(row, note.partner, note.received_at, note.dead,
                                       note.source, note.offset, partition)  # fmt: skip
        now = step.chain or row
        latest = now.feed.latest_heard() if now is not None and now.feed is not None else None
        if latest is not None:
            self.metrics.feed_last_seen.labels(note.partner).set(latest.timestamp())
        return step

    def on_tick(self, store: ChainStore, tick: Event, partition: int) -> Iterator[Step]:
        """The steps of a tick on ``partition``: one per feed whose row lives there. The
        per-partner gauges follow each feed's health as judged."""
        for partner, home in self.home.items():
            if home != partition:
                continue
            row = store.get(feed_key(partner))
            step = self.core.on_feed_tick(row, partner, tick, store.briefs, partition)
            self._gauges(partner, step.chain or row)
            yield step

    def _gauges(self, partner: str, row: Chain | None) -> None:
        if row is None or row.feed is None:
            return
        health = row.feed
        self.metrics.feed_dead_letter_rate.labels(partner).set(health.dead_letter_rate or 0.0)
        self.metrics.feed_silent.labels(partner).set(1 if health.silent is not None else 0)
        self.metrics.feed_degraded.labels(partner).set(1 if health.degraded is not None else 0)
