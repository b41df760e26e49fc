"""``chain``: events + commands + feeds -> chain table -> cases, escalations, audit, read model.

Records are taken in batches and applied one by one in arrival order (so per chain in
partition order); each changed chain's table row and read model are written once per batch,
before the batch is acknowledged. A chain's audit records are acknowledged by Kafka before its
row (with the new audit head) is written, so a head never names a record the trail lacks: after
a crash the same records are written again, as exact copies. A CLOCK_TICK on the events topic
reaches every chain of its partition with a deadline or re-escalation due; when it starts a new
checkpoint interval it also checkpoints its partition's audit heads (:mod:`hub.audit.checkpoint`),
sent once the batch's audit records are acknowledged. On the feeds topic, a heard note is counted
in its partner feed's row and a tick judges every feed whose row lives on its partition
(:mod:`hub.runtime.feeds`); an unsigned record there is dead-lettered. A record the chain
cannot take (a rule or the engine raised) is dead-lettered with stage ``chain`` and the
exception, and the agent goes on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from connectors.base import Rejection
from hub.audit.checkpoint import Checkpoint, Checkpointer
from hub.audit.topic import encode as encode_record
from hub.canonical import canonical_json
from hub.cases.commands import CaseCommand
from hub.events.models import Event, EventType
from hub.flow import Chain, Step
from hub.headers import KIND_HEADER
from hub.runtime.chainstore import ChainStore
from hub.runtime.context import Worker, headers_of
from hub.runtime.feeds import KIND_HEARD
from hub.ticks import tick_is_signed

log = logging.getLogger("v2v.runtime")
# Up to CHAIN_BATCH records, waiting at most CHAIN_BATCH_WITHIN_S for a batch to fill: a light
# load waits that long at most, a heavy one gets full batches.
CHAIN_BATCH = 500
CHAIN_BATCH_WITHIN_S = 0.01


class ChainAgent:
    def __init__(
        self, hub: Worker, store: ChainStore, checkpointer: Checkpointer | None = None
    ) -> None:
        self.hub, self.store, self.checkpointer = hub, store, checkpointer
        self.dirty: dict[str, Chain] = {}  # latest version of each chain this batch changed
        self.timeline: list[Event] = []
        self.sent: list[tuple[str, Any]] = []  # audit records in flight: (kind, delivery)
        self.checkpoints: list[Checkpoint] = []

    async def on_record(self, message: Any) -> None:
        hub = self.hub
        if message.topic == hub.topics.feeds:
            await self.on_feed_record(message)
            return
        if message.topic == hub.topics.commands:
            cmd = await hub.decode(message, hub.wires.commands, "command")
            if cmd is not None:
                await self.on_command(message, cmd)
            hub.metrics.commands_processed.inc()
            return
        event = await hub.decode(message, hub.wires.events, "event")
        if event is None:
            return
        await self.on_event(message, event)
        # Counted once every output of the event was handed to the producer: a reader that
        # sees the count can wait for exactly that many output records.
        hub.metrics.events_processed.labels(event.event_type.value).inc()

    async def on_event(self, message: Any, event: Event) -> None:
        hub = self.hub
        if event.event_type is EventType.CLOCK_TICK:
            if not tick_is_signed(hub.tick_key, message.value, headers_of(message)):
                await hub.dead_letter(message, _forged(event))
                return
            for chain in list(self.store.due(message.partition, event.occurred_at)):
                await self.apply(message, hub.core.on_tick(chain, event), message.partition)
            self.checkpoint(message.partition, event.occurred_at)
            return
        known = self.store.get(event.coi_id) if event.coi_id else None
        step = hub.core.on_event(known, event, message.partition)
        await self.apply(message, step, message.partition)

    async def on_feed_record(self, message: Any) -> None:
        """A heard note (counted in its feed's row) or a tick (every feed whose row lives on
        the partition judged), both signed by the hub (:mod:`hub.runtime.feeds`)."""
        hub, headers = self.hub, headers_of(message)
        value, kind = message.value or b"", dict(headers).get(KIND_HEADER)
        if not tick_is_signed(hub.tick_key, value, headers):
            code = "FEED_NOTE_NOT_FROM_HUB" if kind == KIND_HEARD else "TICK_NOT_FROM_HUB"
            reason = "no valid v2v.tick-signature: heard notes and ticks come from the hub"
            await hub.dead_letter(message, _feeds_rejection(code, reason, "headers"))
            return
        if kind == KIND_HEARD:
            try:
                step = hub.feeds.on_note(self.store, value, message.partition)
            except ValueError as exc:
                await hub.dead_letter(message, _feeds_rejection("UNDECODABLE_FEED_NOTE", str(exc)))
                return
            if step.chain is not None:  # a note heard again, or of a feed not watched: none
                hub.metrics.feed_records.labels("heard").inc()
        else:
            tick = await hub.decode(message, hub.wires.events, "event")
            if tick is None:
                return
            if tick.event_type is not EventType.CLOCK_TICK:
                reason = f"{tick.event_type.value} on the feeds topic: it carries ticks and notes"
                await hub.dead_letter(message, _feeds_rejection("NOT_A_FEED_RECORD", reason))
                return
            for step in hub.feeds.on_tick(self.store, tick, message.partition):
                await self.apply(message, step, message.partition)
            hub.metrics.feed_records.labels("tick").inc()
            return
        await self.apply(message, step, message.partition)

    async def on_command(self, message: Any, cmd: CaseCommand) -> None:
        coi_id = (message.key or b"").decode("utf-8", "replace")
        step = self.hub.core.on_command(self.store.get(coi_id), coi_id, cmd)
        await self.apply(message, step, message.partition)

    async def apply(self, message: Any, step: Step, partition: int) -> None:
        hub = self.hub
        if step.failure is not None:
            log.error(
                "chain failed on %s@%s:%s, dead-lettered: %s",
                message.topic,
                message.partition,
                message.offset,
                step.failure.reason,
            )
            await hub.dead_letter(message, step.failure)
        for case in step.cases:
            await hub.out.cases.send(
                key=case.coi_id.encode(), value=await hub.encode(hub.wires.cases, case)
            )
            hub.metrics.case_versions.labels(case.code).inc()
            if case.version == 1:
                hub.metrics.cases_opened.labels(case.code, case.severity.value).inc()
                lag = datetime.now(UTC) - case.detected_at
                hub.metrics.detection_latency.labels(case.code).observe(
                    max(lag.total_seconds(), 0.0)
                )
        for escalation in step.escalations:
            value = await hub.encode(hub.wires.escalations, escalation)
            await hub.out.escalations.send(key=escalation.coi_id.encode(), value=value)
            hub.metrics.escalations_issued.labels(
                escalation.severity.value, str(escalation.level)
            ).inc()
        for record in step.audit:
            delivery = await hub.out.audit.send(
                key=record.chain.encode(), value=encode_record(record)
            )
            self.sent.append((record.kind.value, delivery))
        if step.chain is not None:
            self.store.put(step.chain, partition)
            self.dirty[step.chain.coi_id] = step.chain
            self.timeline.extend(step.timeline)

    def checkpoint(self, partition: int, at: datetime) -> None:
        """A signed checkpoint of ``partition``'s audit heads, when ``at`` starts an interval."""
        cp = self.checkpointer
        if cp is not None and cp.due(partition, at):
            made = cp.make(partition, at, self.store.heads(partition))
            if made is not None:
                self.checkpoints.append(made)

    async def flush(self) -> None:
        """Audit records acknowledged, then checkpoints, table rows and read models of every
        chain the batch changed."""
        hub = self.hub
        if self.sent:
            sent, self.sent = self.sent, []
            await asyncio.gather(*(delivery for _, delivery in sent))
            for kind, _ in sent:
                hub.metrics.audit_records.labels(kind).inc()
        for made in self.checkpoints:
            value = canonical_json(made.as_json())
            await hub.out.audit_checkpoints.send(key=str(made.partition).encode(), value=value)
            hub.metrics.audit_checkpoints.inc()
        self.checkpoints.clear()
        self.store.flush()
        if self.dirty or self.timeline:
            chains, events = list(self.dirty.values()), list(self.timeline)
            self.dirty.clear()
            self.timeline.clear()
            cois = [c.coi_id for c in chains]
            await self.hub.project(self.hub.projection.chains_updated(chains, events), cois)


def _forged(tick: Event) -> Rejection:
    return Rejection(
        code="TICK_NOT_FROM_HUB",
        reason="CLOCK_TICK without a valid v2v.tick-signature: ticks come from the hub's ticker",
        partner=tick.source.partner,
        stage="chain",
        message_id=tick.source.message_id,
        field="headers",
    )


def _feeds_rejection(code: str, reason: str, field: str | None = None) -> Rejection:
    return Rejection(code=code, reason=reason, partner="hub", stage="chain", field=field)


def register(
    hub: Worker, chain_topic: Any, store: ChainStore, checkpointer: Checkpointer | None = None
) -> ChainAgent:
    agent = ChainAgent(hub, store, checkpointer)

    @hub.app.agent(chain_topic, name="chain")
    async def chain(stream: Any) -> None:
        # take_events acknowledges a batch only after this body is done with it.
        async for records in stream.take_events(CHAIN_BATCH, within=CHAIN_BATCH_WITHIN_S):
            store.recover()  # chains recovered from the changelog count from the start
            try:
                for record in records:
                    await agent.on_record(record.message)
            finally:
                await agent.flush()

    return agent
