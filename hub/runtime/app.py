"""The Faust app factory: agents wired around the pure connectors, engine and case layer.

Nothing happens on import; :func:`create_app` builds everything from :class:`Settings`.

Agents (all at-least-once; every output is idempotent by deterministic id):

* ``normalise``  raw.<partner> -> events (keyed by COI) | dlq (original bytes + reason headers)
* ``chain``      events + commands -> chain table (engine + case desk) -> cases, escalations,
                 audit; a CLOCK_TICK fires due deadlines and re-escalates unacknowledged cases.
                 Records are taken in batches (in order); each changed chain's table row and
                 read model are written once per batch, before the batch is acknowledged
* ``project_cases``  cases -> Redis read model
* ``notify``     escalations -> notifier sinks (webhook / log), exactly once per escalation id
* ``ticker``     timer on the leader: one CLOCK_TICK per events partition (wall clock)
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from faust.utils.terminal import SpinnerHandler
from redis.exceptions import RedisError

from connectors.base import ConnectorConfig, RawMessage, Rejection
from connectors.registry import get_connector
from hub.cases.commands import CaseCommand, CommandRejected
from hub.cases.desk import command as desk_command
from hub.cases.desk import receive_cases
from hub.cases.desk import tick as desk_tick
from hub.cases.escalation import load_policy
from hub.cases.lifecycle import apply_findings, record_case
from hub.cases.models import Case, Escalation
from hub.chain.engine import apply, new_chain
from hub.chain.links import links_taught, routing_key
from hub.chain.profiles import DEFAULT_PROFILE, ProductProfile, load_profiles
from hub.chain.state import ChainState
from hub.errors import DeliveryError, SerializationError
from hub.events.ids import derive_id
from hub.events.models import (
    ClockTickDetail,
    Event,
    EventType,
    Identifiers,
    IdentityCheckDetail,
    ScheduleDetail,
    Source,
)
from hub.headers import RECEIVED_AT_HEADER
from hub.metrics import Metrics, create_metrics
from hub.runtime.chainstore import Chain, ChainStore
from hub.runtime.deadletter import deadletter_headers
from hub.runtime.notifiers import LogNotifier, Notifier, WebhookNotifier
from hub.runtime.projection import Projection
from hub.runtime.topics import Topics
from hub.runtime.views import register_views
from hub.serde import wire_for
from hub.settings import Settings

log = logging.getLogger("v2v.runtime")


def _headers(message: Any) -> list[tuple[str, bytes]]:
    raw = message.headers or []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v or b"") for k, v in items]


def _received_at(message: Any, headers: list[tuple[str, bytes]]) -> datetime:
    """When the hub received the message: the ingress edge's ``v2v.received_at`` header (HTTP
    ingress, file drop, simulator) or else the Kafka record timestamp. Either way a replayed
    record gives the same value, so replays stay idempotent."""
    for name, value in headers:
        if name == RECEIVED_AT_HEADER:
            try:
                stamp = datetime.fromisoformat(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                break
            if stamp.tzinfo is not None:
                return stamp.astimezone(UTC)
            break
    return datetime.fromtimestamp(message.timestamp, tz=UTC)


MAX_PARKED = 10_000
# The chain agent takes up to CHAIN_BATCH records, waiting at most CHAIN_BATCH_WITHIN_S for a
# batch to fill: a light load waits that long at most, a heavy one gets full batches.
CHAIN_BATCH = 500
CHAIN_BATCH_WITHIN_S = 0.01
# Producer batching: without linger every record went out in its own produce request (aiokafka
# encodes and parses each request in Python, on the worker's one core).
PRODUCER_LINGER_S = 0.005
# A chain row is tens of KB (JSON of the whole state): with Faust's default of 1 MiB per
# partition a restarted worker fetched its changelog a few dozen rows at a time.
CONSUMER_MAX_FETCH_BYTES = 4 * 1024 * 1024
# The chains changelog is compacted, but the broker compacts only closed segments: rolling them
# at 32 MiB (or hourly) lets the cleaner drop superseded rows, so a restart reads about one row
# per chain plus the newest segment rather than every version ever written.
CHAINS_CHANGELOG_CONFIG = {"segment.bytes": str(32 * 1024 * 1024), "segment.ms": "3600000"}


def link_conflict(key: str, known: str, claimant: str) -> Event:
    """A second COI claims an id already linked: a failed identity check on the claimant's
    chain (the first link stands; nothing is overwritten)."""
    kind, _, value = key.partition(":")
    now = datetime.now(UTC)
    return Event(
        event_id=derive_id("link-conflict", key, claimant),
        event_type=EventType.IDENTITY_VERIFIED,
        occurred_at=now,
        recorded_at=now,
        source=Source(partner="hub", system="identity-index", message_id=key, received_at=now),
        coi_id=claimant,
        identifiers=Identifiers(other={"link_conflict": known}),
        detail=IdentityCheckDetail(
            checkpoint="identifier-link",
            expected={kind: f"{value} (linked to {known})"},
            scanned={kind: f"{value} (claimed by {claimant})"},
            matched=False,
        ),
    )


def tick_event(when: datetime, partition: int, clock: str) -> Event:
    stamp = when.isoformat()
    return Event(
        event_id=derive_id("tick", clock, stamp, partition),
        event_type=EventType.CLOCK_TICK,
        occurred_at=when,
        recorded_at=when,
        source=Source(partner="hub", system="clock", message_id=stamp, received_at=when),
        detail=ClockTickDetail(clock=clock, partition=partition),
    )


def create_app(settings: Settings, metrics: Metrics | None = None) -> faust.App:
    topics = Topics.of(settings)
    metrics = metrics or create_metrics()
    profiles = load_profiles(settings.profile_dir)
    policy = load_policy(settings.escalation_policy_file)
    config = ConnectorConfig(pseudonym_key=settings.pseudonym_key.get_secret_value().encode())
    connectors = {p: get_connector(p, config) for p in topics.raw}
    fmt, registry = settings.wire_format, settings.schema_registry_url
    events_wire = wire_for(Event, fmt, topics.events, registry)
    case_wire = wire_for(Case, fmt, topics.cases, registry)
    escalation_wire = wire_for(Escalation, fmt, topics.escalations, registry)
    command_wire = wire_for(CaseCommand, fmt, topics.commands, registry)

    app = faust.App(
        settings.app_id,
        broker=["kafka://" + s.strip() for s in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=str(settings.data_dir / settings.app_id),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=CONSUMER_MAX_FETCH_BYTES,
        producer_acks=-1,
        producer_linger=PRODUCER_LINGER_S,
        web_enabled=settings.web_enabled,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        autodiscover=False,
    )
    app.conf.v2v_settings = settings
    raw_kw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    raw_topic = app.topic(*topics.raw.values(), **raw_kw)
    events_topic = app.topic(topics.events, partitions=settings.topic_partitions, **raw_kw)
    commands_topic = app.topic(topics.commands, partitions=settings.topic_partitions, **raw_kw)
    # One agent reads a chain's events and the commands on its cases (both keyed by COI, same
    # partition count), so they are applied in one order against one table row.
    chain_topic = app.topic(
        topics.events, topics.commands, partitions=settings.topic_partitions, **raw_kw
    )
    audit_topic = app.topic(topics.audit, **raw_kw)
    identity_topic = app.topic(topics.identity, partitions=settings.topic_partitions, **raw_kw)
    cases_topic = app.topic(topics.cases, **raw_kw)
    escalations_topic = app.topic(topics.escalations, **raw_kw)
    dlq_topic = app.topic(topics.dlq, **raw_kw)
    # JSON changelog (the app's default value serializer): readable with any Kafka tool.
    table = app.Table(
        "chains",
        partitions=settings.topic_partitions,
        key_type=str,
        extra_topic_configs=CHAINS_CHANGELOG_CONFIG,
    )

    def write_row(coi_id: str, row: dict[str, Any], partition: int) -> None:
        """``table[coi_id] = row`` with the changelog partition given: a batch is flushed
        outside Faust's per-record context, where ``table[...] =`` would look it up."""
        table.send_changelog(partition, coi_id, row)
        table.data[coi_id] = row

    store = ChainStore(table, policy, write_row)
    # Identifier index (secondary id -> COI) and events waiting for their link, keyed like the
    # identity topic; ``taught`` spares the index links this worker already sent.
    id_index = app.Table("id-index", partitions=settings.topic_partitions, key_type=str)
    parked = app.Table("id-parked", partitions=settings.topic_partitions, key_type=str)
    taught: dict[str, str] = {}
    sinks: dict[str, Notifier] = {"log": LogNotifier()}
    sinks["webhook"] = (
        WebhookNotifier(settings.webhook_url, attempts=settings.webhook_attempts)
        if settings.webhook_url
        else sinks["log"]
    )
    projection = Projection(settings)
    # Read-model changes of the current chain batch: latest state per chain, timeline events.
    dirty_states: dict[str, ChainState] = {}
    timeline: list[Event] = []

    async def project(write: Awaitable[None]) -> None:
        try:
            await write
        except RedisError as exc:
            metrics.projection_errors.inc()
            log.warning("Redis read model not updated (stale until the next change): %s", exc)

    async def until_redis_answers(call: Callable[[], Awaitable[bool]]) -> bool:
        """Notification idempotency needs Redis: wait for it rather than notify twice or never."""
        delay = 0.5
        while True:
            try:
                return await call()
            except RedisError as exc:
                log.warning("Redis unavailable for notification idempotency, retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def dead_letter(message: Any, rejection: Rejection) -> None:
        headers = deadletter_headers(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original=_headers(message),
        )
        await dlq_topic.send(key=message.key, value=message.value, headers=headers)

    async def route(event: Event, message: Any) -> None:
        """Events with a COI go to the chain; they also teach the identifier index. Events with
        only secondary ids go to the resolver, keyed by the id it resolves them by."""
        if event.coi_id:
            await events_topic.send(key=event.coi_id.encode(), value=events_wire.encode(event))
            for link in links_taught(event):
                if taught.get(link) == event.coi_id:
                    continue
                taught[link] = event.coi_id
                if len(taught) > 100_000:
                    taught.pop(next(iter(taught)))
                await identity_topic.send(
                    key=link.encode(), value=event.coi_id.encode(), headers=[("v2v.kind", b"link")]
                )
            return
        key = routing_key(event)
        if key is None:
            await dead_letter(
                message,
                Rejection(
                    code="NO_COI",
                    reason=f"{event.event_type.value} carries neither a COI nor a linkable id",
                    partner=event.source.partner,
                    stage="route",
                    message_id=event.source.message_id,
                ),
            )
            return
        await identity_topic.send(
            key=key.encode(), value=events_wire.encode(event), headers=[("v2v.kind", b"event")]
        )

    async def forward(event: Event, coi_id: str) -> None:
        resolved = event.model_copy(update={"coi_id": coi_id})
        await events_topic.send(key=coi_id.encode(), value=events_wire.encode(resolved))
        metrics.identity_resolved.inc()

    @app.agent(identity_topic, name="resolve")
    async def resolve(stream: Any) -> None:
        async for record in stream.events():
            message = record.message
            key = (message.key or b"").decode("utf-8", "replace")
            kind = dict(_headers(message)).get("v2v.kind", b"")
            if kind == b"link":
                coi_id = (message.value or b"").decode("utf-8", "replace")
                known = id_index.get(key)
                if known is None:
                    id_index[key] = coi_id
                    for data in parked.pop(key, None) or []:
                        await forward(events_wire.decode(base64.b64decode(data)), coi_id)
                elif known != coi_id:
                    metrics.link_conflicts.inc()
                    await events_topic.send(
                        key=coi_id.encode(),
                        value=events_wire.encode(link_conflict(key, known, coi_id)),
                    )
                continue
            try:
                event = events_wire.decode(message.value or b"")
            except SerializationError as exc:
                await dead_letter(
                    message,
                    Rejection(
                        code="UNDECODABLE_EVENT", reason=str(exc), partner="hub", stage="decode"
                    ),
                )
                continue
            known = id_index.get(key)
            if known is not None:
                await forward(event, known)
                continue
            waiting = list(parked.get(key) or [])
            if len(waiting) >= MAX_PARKED:
                await dead_letter(
                    message,
                    Rejection(
                        code="UNLINKED_OVERFLOW",
                        reason=f"{key} has {MAX_PARKED} events waiting for a COI link",
                        partner=event.source.partner,
                        stage="resolve",
                        message_id=event.source.message_id,
                    ),
                )
                continue
            parked[key] = [*waiting, base64.b64encode(message.value or b"").decode("ascii")]
            metrics.identity_parked.inc()

    @app.agent(raw_topic, name="normalise")
    async def normalise(stream: Any) -> None:
        async for record in stream.events():
            message = record.message
            partner = topics.partner_of(message.topic)
            headers = _headers(message)
            content_type = dict(headers).get("content-type")
            raw = RawMessage(
                partner=partner,
                payload=message.value or b"",
                received_at=_received_at(message, headers),
                content_type=content_type.decode("utf-8", "replace") if content_type else None,
                headers=dict(headers),
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
            metrics.raw_messages.labels(partner).inc()
            result = connectors[partner].process(raw)
            if result.rejection is not None:
                metrics.raw_rejected.labels(partner, result.rejection.code).inc()
                log.warning(
                    "dead-lettered %s@%s:%s: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    result.rejection.code,
                )
                await dead_letter(message, result.rejection)
                continue
            for event in result.events:
                await route(event, message)
                metrics.events_out.labels(partner, event.event_type.value).inc()
            metrics.raw_accepted.labels(partner).inc()

    def profile_for(state: ChainState, event: Event) -> ProductProfile:
        named = state.product_profile
        if isinstance(event.detail, ScheduleDetail) and event.detail.product_profile:
            named = event.detail.product_profile  # the order that names the product counts
        return profiles.get(named or DEFAULT_PROFILE, profiles[DEFAULT_PROFILE])

    async def publish(cases: list[Case], escalations: list[Escalation], since: datetime) -> None:
        for case in cases:
            await cases_topic.send(key=case.coi_id.encode(), value=case_wire.encode(case))
            metrics.case_versions.labels(case.code).inc()
            if case.version == 1:
                metrics.cases_opened.labels(case.code, case.severity.value).inc()
                latency = (case.detected_at - since).total_seconds()
                metrics.detection_latency.labels(case.code).observe(max(latency, 0.0))
        for escalation in escalations:
            await escalations_topic.send(
                key=escalation.coi_id.encode(), value=escalation_wire.encode(escalation)
            )

    async def step(chain: Chain, event: Event, partition: int) -> None:
        """Apply one event (or tick) to one chain: engine, cases, escalations, then persist."""
        state, findings = apply(chain.state, event, profile_for(chain.state, event))
        refs, cases = apply_findings(state.cases, findings, datetime.now(UTC))
        desk, escalations = receive_cases(chain.desk, cases, policy)
        if event.event_type is EventType.CLOCK_TICK:
            desk, overdue = desk_tick(desk, event.occurred_at, policy)
            escalations += overdue
        if state is chain.state and desk is chain.desk:
            return
        state = state.model_copy(update={"cases": refs, "partition": partition})
        await publish(cases, escalations, event.recorded_at)
        old_stage = chain.state.stage
        store.put(Chain(state=state, desk=desk), partition)
        if state.stage != old_stage:
            metrics.chains_by_stage.labels(old_stage).dec()
            metrics.chains_by_stage.labels(state.stage).inc()
        dirty_states[state.coi_id] = state
        if event.event_type is not EventType.CLOCK_TICK:
            timeline.append(event)

    async def flush_batch() -> None:
        """Table rows, then read models, of every chain the batch changed."""
        store.flush()
        if dirty_states or timeline:
            states, events = list(dirty_states.values()), list(timeline)
            dirty_states.clear()
            timeline.clear()
            await project(projection.chains_updated(states, events))

    async def audit(record: dict[str, Any], coi_id: str) -> None:
        await audit_topic.send(key=coi_id.encode(), value=json.dumps(record).encode())

    async def on_command(message: Any) -> None:
        try:
            cmd = command_wire.decode(message.value or b"")
        except SerializationError as exc:
            reason = str(exc)
            await dead_letter(
                message,
                Rejection(code="UNDECODABLE_COMMAND", reason=reason, partner="hub", stage="decode"),
            )
            return
        coi_id = (message.key or b"").decode("utf-8", "replace")
        chain = store.get(coi_id)
        if chain is None or cmd.case_id not in chain.desk.cases:
            await audit(
                {
                    "kind": "command_rejected",
                    "error": "UNKNOWN_CASE",
                    **cmd.model_dump(mode="json"),
                },
                coi_id,
            )
            return
        desk, result = desk_command(chain.desk, cmd)
        if result is None:
            return  # this command id was applied before: a replay changes nothing
        if isinstance(result, CommandRejected):
            await audit({"kind": "command_rejected", **result.model_dump(mode="json")}, coi_id)
            store.put(Chain(state=chain.state, desk=desk), message.partition)
            return
        state = chain.state.model_copy(
            update={"cases": record_case(chain.state.cases, result.case)}
        )
        await publish([result.case], [], cmd.at)
        await audit({"kind": "case_command", **result.note.model_dump(mode="json")}, coi_id)
        store.put(Chain(state=state, desk=desk), message.partition)
        dirty_states[state.coi_id] = state

    async def on_chain_record(message: Any) -> None:
        if message.topic == topics.commands:
            await on_command(message)
            return
        try:
            event = events_wire.decode(message.value or b"")
        except SerializationError as exc:
            await dead_letter(
                message,
                Rejection(code="UNDECODABLE_EVENT", reason=str(exc), partner="hub", stage="decode"),
            )
            return
        metrics.events_processed.labels(event.event_type.value).inc()
        if event.event_type is EventType.CLOCK_TICK:
            for chain in list(store.due(message.partition, event.occurred_at)):
                await step(chain, event, message.partition)
            return
        if not event.coi_id:
            await dead_letter(
                message,
                Rejection(
                    code="NO_COI",
                    reason="event carries no COI and no identifier link resolved it",
                    partner=event.source.partner,
                    stage="route",
                    message_id=event.source.message_id,
                ),
            )
            return
        known = store.get(event.coi_id)
        if known is None:
            known = Chain(state=new_chain(event.coi_id))
            metrics.chains_by_stage.labels(known.state.stage).inc()
        await step(known, event, message.partition)

    @app.agent(chain_topic, name="chain")
    async def chain_agent(stream: Any) -> None:
        # Records are applied one by one in arrival order (so per chain in partition order);
        # take_events acknowledges a batch only after this body is done with it.
        async for records in stream.take_events(CHAIN_BATCH, within=CHAIN_BATCH_WITHIN_S):
            try:
                for record in records:
                    await on_chain_record(record.message)
            finally:
                await flush_batch()

    @app.agent(cases_topic, name="project_cases")
    async def project_cases(stream: Any) -> None:
        async for record in stream.events():
            try:
                case = case_wire.decode(record.message.value or b"")
            except SerializationError as exc:
                await dead_letter(
                    record.message,
                    Rejection(
                        code="UNDECODABLE_CASE", reason=str(exc), partner="hub", stage="decode"
                    ),
                )
                continue
            await project(projection.case_updated(case))

    @app.agent(escalations_topic, name="notify")
    async def notify(stream: Any) -> None:
        async for record in stream.events():
            try:
                escalation = escalation_wire.decode(record.message.value or b"")
            except SerializationError as exc:
                await dead_letter(
                    record.message,
                    Rejection(
                        code="UNDECODABLE_ESCALATION",
                        reason=str(exc),
                        partner="hub",
                        stage="decode",
                    ),
                )
                continue
            key = escalation.escalation_id
            if await until_redis_answers(partial(projection.was_notified, key)):
                continue  # delivered before (a replay after a restart): exactly once in effect
            sink = sinks.get(escalation.channel, sinks["log"])
            try:
                await sink.send(escalation)
            except DeliveryError as exc:
                metrics.notification_failures.labels(escalation.channel).inc()
                log.error("notification failed, logged instead: %s", exc)
                await sinks["log"].send(escalation)
            await until_redis_answers(partial(projection.mark_notified, key))
            metrics.escalations.labels(
                escalation.severity.value, str(escalation.level), escalation.channel
            ).inc()

    if settings.tick_interval_s > 0:

        @app.timer(settings.tick_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
        async def ticker() -> None:
            now = datetime.now(UTC)
            for partition in range(settings.topic_partitions):
                tick = tick_event(now, partition, "wall")
                await events_topic.send(
                    key=b"", value=events_wire.encode(tick), partition=partition
                )

    @app.task  # type: ignore[untyped-decorator]
    async def log_threshold() -> None:
        """Faust's worker leaves the root logger at DEBUG for its start-up spinner, so every
        debug call of aiokafka (several per record sent) built a record that no handler
        printed. Back to the handlers' own threshold: the same output without that cost."""
        levels = [h.level for h in logging.root.handlers if not isinstance(h, SpinnerHandler)]
        if levels and min(levels) > logging.root.level:
            logging.root.setLevel(min(levels))

    async def on_revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        store.forget()

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]  # mode stubs too narrow

    register_views(app, metrics, projection, commands_topic, command_wire)

    return app
