"""The Faust app factory: agents wired around the pure connectors, engine and case layer.

Nothing happens on import; :func:`create_app` builds everything from :class:`Settings`.

Agents (all at-least-once; every output is idempotent by deterministic id):

* ``normalise``  raw.<partner> -> events (keyed by COI) | dlq (original bytes + reason headers)
* ``chain``      events -> chain table (engine) -> cases; CLOCK_TICK fires due deadlines
* ``escalate``   cases -> Redis read model, escalations (+ notifier sinks, once per id)
* ``ticker``     timer on the leader: one CLOCK_TICK per events partition (wall clock)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from connectors.base import ConnectorConfig, RawMessage, Rejection
from connectors.registry import get_connector
from hub.cases.escalation import escalations_for, load_policy
from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case, Escalation
from hub.chain.engine import apply, new_chain
from hub.chain.profiles import DEFAULT_PROFILE, load_profiles
from hub.errors import SerializationError
from hub.events.ids import derive_id
from hub.events.models import ClockTickDetail, Event, EventType, Source
from hub.headers import RECEIVED_AT_HEADER
from hub.metrics import Metrics, create_metrics
from hub.runtime.chainstore import ChainStore
from hub.runtime.deadletter import deadletter_headers
from hub.runtime.projection import Projection
from hub.runtime.topics import Topics
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

    app = faust.App(
        settings.app_id,
        broker=["kafka://" + s.strip() for s in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=str(settings.data_dir / settings.app_id),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
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
    cases_topic = app.topic(topics.cases, **raw_kw)
    escalations_topic = app.topic(topics.escalations, **raw_kw)
    dlq_topic = app.topic(topics.dlq, **raw_kw)
    # JSON changelog (the app's default value serializer): readable with any Kafka tool.
    table = app.Table("chains", partitions=settings.topic_partitions, key_type=str)
    store = ChainStore(table)
    projection = Projection(settings)

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
                key = event.coi_id or ""
                await events_topic.send(key=key.encode(), value=events_wire.encode(event))
                metrics.events_out.labels(partner, event.event_type.value).inc()
            metrics.raw_accepted.labels(partner).inc()

    async def publish_cases(cases: list[Case], trigger: Event) -> None:
        for case in cases:
            await cases_topic.send(key=case.coi_id.encode(), value=case_wire.encode(case))
            metrics.case_versions.labels(case.code).inc()
            if case.version == 1:
                metrics.cases_opened.labels(case.code, case.severity.value).inc()
                latency = (case.detected_at - trigger.recorded_at).total_seconds()
                metrics.detection_latency.labels(case.code).observe(max(latency, 0.0))

    async def advance(state: Any, event: Event, partition: int) -> None:
        profile = profiles.get(state.product_profile or DEFAULT_PROFILE, profiles[DEFAULT_PROFILE])
        old_stage = state.stage
        new, findings = apply(state, event, profile)
        if new is state and not findings:
            return
        refs, cases = apply_findings(new.cases, findings, datetime.now(UTC))
        new.cases = refs
        new.partition = partition
        await publish_cases(cases, event)
        store.put(new)
        if new.stage != old_stage:
            metrics.chains_by_stage.labels(old_stage).dec()
            metrics.chains_by_stage.labels(new.stage).inc()
        await project(projection.chain_updated(new))

    @app.agent(events_topic, name="chain")
    async def chain(stream: Any) -> None:
        async for record in stream.events():
            message = record.message
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
            metrics.events_processed.labels(event.event_type.value).inc()
            if event.event_type is EventType.CLOCK_TICK:
                for state in list(store.due(message.partition, event.occurred_at)):
                    await advance(state, event, message.partition)
                continue
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
                continue
            known = store.get(event.coi_id)
            if known is None:
                known = new_chain(event.coi_id)
                metrics.chains_by_stage.labels(known.stage).inc()
            await advance(known, event, message.partition)

    @app.agent(cases_topic, name="escalate")
    async def escalate(stream: Any) -> None:
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
            for escalation in escalations_for(case, policy):
                if not await until_redis_answers(
                    partial(projection.first_notification, escalation.escalation_id)
                ):
                    continue
                await escalations_topic.send(
                    key=case.coi_id.encode(), value=escalation_wire.encode(escalation)
                )
                metrics.escalations.labels(
                    escalation.severity.value, str(escalation.level), escalation.channel
                ).inc()
                log.warning(
                    "escalation level %s to %s via %s: %s",
                    escalation.level,
                    escalation.recipient_role,
                    escalation.channel,
                    escalation.message,
                )

    if settings.tick_interval_s > 0:

        @app.timer(settings.tick_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
        async def ticker() -> None:
            now = datetime.now(UTC)
            for partition in range(settings.topic_partitions):
                tick = tick_event(now, partition, "wall")
                await events_topic.send(
                    key=b"", value=events_wire.encode(tick), partition=partition
                )

    async def on_revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        store.forget()

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]  # mode stubs too narrow

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp wants the charset apart from the media type
        media_type = CONTENT_TYPE_LATEST.split(";")[0]
        return web.bytes(generate_latest(metrics.registry), content_type=media_type)

    @app.page("/ready")
    async def ready_view(web: Any, request: Any) -> Any:
        assigned = app.consumer.assignment() if app.consumer is not None else set()
        ok = bool(assigned) and not app.rebalancing
        return web.json({"ready": ok, "partitions": len(assigned)}, status=200 if ok else 503)

    @app.page("/chains/{coi_id}")
    async def chain_view(web: Any, request: Any, coi_id: str) -> Any:
        summary = await projection.chain(coi_id)
        if summary is None:
            return web.json({"error": f"no chain {coi_id}"}, status=404)
        return web.json(summary)

    @app.page("/cases")
    async def cases_view(web: Any, request: Any) -> Any:
        return web.json({"cases": await projection.open_cases()})

    return app
