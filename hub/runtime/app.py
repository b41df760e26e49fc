"""The Faust app factory: a thin adapter that moves records between Kafka and the flow core.

Nothing happens on import; :func:`create_app` builds everything from :class:`Settings`. Every
decision is the flow core's (:mod:`hub.flow`); the agents (one module each, in
``hub/runtime/agents``) only decode, call the core and write what it returns. All agents are
at-least-once; every output is idempotent by deterministic id.

* ``normalise``      raw.<partner> -> events (keyed by COI) | identity | dlq | feeds (heard)
* ``resolve``        identity -> events (re-keyed through the identifier index) | parked
* ``chain``          events + commands + feeds -> chain table -> cases, escalations, audit,
                     read model
* ``project_cases``  cases -> Redis read model
* ``notify``         escalations -> notifier sinks, exactly once per escalation id
* ``ticker``         timer on the leader: one CLOCK_TICK per events and feeds partition (wall
                     clock)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from aiohttp.typedefs import Middleware
from faust.utils.terminal import SpinnerHandler

from hub import console
from hub.audit.checkpoint import ChainHead, Checkpointer
from hub.audit.keys import load_private
from hub.audit.records import AuditHead
from hub.auth.gate import Gate
from hub.auth.http import auth_middleware
from hub.flow import FlowCore
from hub.flow.core import tick_event
from hub.logthrottle import RepeatFilter, install
from hub.metrics import Metrics, create_metrics
from hub.runtime import lag, rebuild
from hub.runtime.agents import chain, normalise, outputs, resolve
from hub.runtime.chainstore import ChainStore
from hub.runtime.context import Outputs, Wires, Worker
from hub.runtime.delivery import DeliveryGuard
from hub.runtime.feeds import FeedWatch
from hub.runtime.health import unavailable_middleware
from hub.runtime.kafka import broker_credentials
from hub.runtime.projection import Projection
from hub.runtime.tablestore import store_url, table_rows
from hub.runtime.views import ROUTES, register_views
from hub.settings import Settings
from hub.ticks import signature
from hub.topics import Topics

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
RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def _faust_app(settings: Settings, middlewares: list[Middleware]) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=["kafka://" + s.strip() for s in settings.kafka_bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / settings.app_id),
        consumer_group_instance_id=settings.instance_id,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 4,
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
        # Every route is behind the gate; Faust's own table and router pages are not served.
        web_application_options={"middlewares": middlewares},
        web_router_enabled=False,
        web_tables_enabled=False,
        autodiscover=False,
    )


def checkpointer_for(settings: Settings, config: AuditHead | None = None) -> Checkpointer | None:
    """The worker's checkpoint signer (None with the audit trail off). In development mode a
    missing key is generated on first use."""
    if not settings.audit_enabled:
        return None
    key = load_private(settings.audit_key_path, generate_missing=settings.dev_mode)
    head = ChainHead(seq=config.seq, hash=config.hash) if config and config.hash else None
    interval = timedelta(seconds=settings.audit_checkpoint_interval_s)
    return Checkpointer(key, interval, head)


def create_app(
    settings: Settings, metrics: Metrics | None = None, audit_config: AuditHead | None = None
) -> faust.App:
    """The worker. ``audit_config``: the configuration chain's head that the starting worker
    recorded (:func:`hub.audit.topic.record_configuration`), named in its checkpoints.
    ConfigurationError when a secret is missing outside development mode."""
    settings.require_secrets("the worker")
    topics = Topics.of(settings)
    metrics = metrics or create_metrics()
    gate = Gate.from_settings(settings)
    csrf = console.CsrfKey()
    # the console's session (cookie -> bearer token, CSRF) in front of the one gate
    routes = {**ROUTES, **console.ROUTES}
    middlewares = [
        console.session_middleware(csrf),
        auth_middleware(gate, routes),
        unavailable_middleware(settings.delivery_timeout_s),
    ]
    app = _faust_app(settings, middlewares)
    app.conf.v2v_settings = settings
    delivery = DeliveryGuard(metrics)  # a record Kafka refuses stops the worker before commit
    app.sensors.add(delivery)
    delivery.guard(app.producer)
    parts = settings.topic_partitions

    def topic(*names: str, keyed: bool = False) -> Any:
        return app.topic(*names, partitions=parts, **RAW) if keyed else app.topic(*names, **RAW)

    out = Outputs(
        events=topic(topics.events, keyed=True),
        identity=topic(topics.identity, keyed=True),
        feeds=topic(topics.feeds, keyed=True),
        cases=topic(topics.cases),
        escalations=topic(topics.escalations),
        commands=topic(topics.commands, keyed=True),
        audit=topic(topics.audit),
        audit_checkpoints=topic(topics.audit_checkpoints),
        dlq=topic(topics.dlq),
    )
    core = FlowCore.from_settings(settings, list(topics.raw))
    hub = Worker(
        app=app,
        settings=settings,
        core=core,
        metrics=metrics,
        topics=topics,
        wires=Wires.of(settings, topics),
        out=out,
        projection=Projection(settings),
        feeds=FeedWatch(core, metrics, parts),
    )
    store = _chain_store(hub, metrics)
    index = resolve.TableIndex(
        app.Table("id-index", partitions=parts, key_type=str),
        app.Table("id-parked", partitions=parts, key_type=str),
        hub.wires.events,
    )
    normalise.register(hub, topic(*topics.raw.values()))
    resolve.register(hub, out.identity, index)
    # One agent reads a chain's events and the commands on its cases (both keyed by COI, same
    # partition count), and a feed's heard notes and ticks (keyed by the feed's row), so each
    # row's records are applied in one order against it.
    checkpointer = checkpointer_for(settings, audit_config)
    chain_topics = topic(topics.events, topics.commands, topics.feeds, keyed=True)
    chain.register(hub, chain_topics, store, checkpointer)
    outputs.register(hub, out.cases, out.escalations)
    _housekeeping(hub, store, checkpointer)
    rebuild.register(hub, store)
    register_views(app, metrics, hub.projection, out.commands, hub.wires.commands, gate)
    if settings.web_enabled:
        router = app.web.web_app.router  # type: ignore[attr-defined]  # the aiohttp driver
        console.mount(router, settings, gate, csrf, hub.projection, hub.core, metrics,
                      out.commands, hub.wires.commands)  # fmt: skip
    read = (*topics.raw.values(), topics.identity, topics.events, topics.commands, topics.feeds,
            topics.cases)  # fmt: skip
    lag.register(app, metrics.consumer_lag, (*read, topics.escalations))
    return app


def _chain_store(hub: Worker, metrics: Metrics) -> ChainStore:
    """The chains table and its index (each chain in brief) behind their store: rows written
    with their changelog partition, and the stage and open-case gauges the store keeps."""
    app, parts = hub.app, hub.settings.topic_partitions

    def table(name: str) -> Any:
        # JSON changelog (the app's default value serializer): readable with any Kafka tool.
        return app.Table(
            name,
            partitions=parts,
            key_type=str,
            extra_topic_configs=CHAINS_CHANGELOG_CONFIG,
            store=store_url(hub.settings.table_store, name),
        )

    def stage_gauge(stages: dict[str, int]) -> None:
        for stage, count in stages.items():
            metrics.chains_by_stage.labels(stage).set(count)

    def case_gauge(tally: dict[tuple[str, str, str], int]) -> None:
        for (severity, code, sla), count in tally.items():
            metrics.cases_open.labels(severity, code, sla).set(count)

    chains, index = table("chains"), table("chain-index")
    return ChainStore(table_rows(chains), hub.core, stage_gauge, case_gauge,
                      index=table_rows(index))  # fmt: skip


def _housekeeping(hub: Worker, store: ChainStore, checkpointer: Checkpointer | None) -> None:
    app, settings = hub.app, hub.settings
    if settings.tick_interval_s > 0:

        @app.timer(settings.tick_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
        async def ticker() -> None:
            now = datetime.now(UTC)
            for partition in range(settings.topic_partitions):
                tick = await hub.encode(hub.wires.events, tick_event(now, partition, "wall"))
                signed = [signature(hub.tick_key, tick)]
                for topic in (hub.out.events, hub.out.feeds):  # hub.ticks.tick_topics
                    await topic.send(key=b"", value=tick, partition=partition, headers=signed)

    repeats = RepeatFilter(settings.log_repeat_interval_s)

    @app.task  # type: ignore[untyped-decorator]
    async def log_threshold() -> None:
        """Faust's worker leaves the root logger at DEBUG for its start-up spinner, so every
        debug call of aiokafka (several per record sent) built a record that no handler
        printed. Back to the handlers' own threshold: the same output without that cost.
        And, on the handlers Faust set up, repeated connection errors once per interval
        (:mod:`hub.logthrottle`)."""
        levels = [h.level for h in logging.root.handlers if not isinstance(h, SpinnerHandler)]
        if levels and min(levels) > logging.root.level:
            logging.root.setLevel(min(levels))
        install(repeats)

    @app.timer(settings.log_repeat_interval_s)  # type: ignore[untyped-decorator]
    async def log_held_back() -> None:
        repeats.flush()

    async def on_revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        store.forget()
        if checkpointer is not None:
            checkpointer.forget()  # the next checkpoint of a partition is a full one again

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]  # mode stubs too narrow
