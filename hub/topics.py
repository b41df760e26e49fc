"""Topic names and idempotent topic creation (confluent-kafka AdminClient).

The audit topics are created never compacted and with unlimited retention (``retention.ms`` and
``retention.bytes`` -1): an audit trail is kept as long as the records it is about (EU GMP Part
IV: 30 years), so it is never cleaned up by the broker. An existing audit topic that says
otherwise is set so by :func:`ensure_topics`. The checkpoint and configuration topics have one
partition each: one order for everything on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from hub.cluster import connect
from hub.errors import ConfigurationError
from hub.partners import load_registry
from hub.settings import Settings


@dataclass(frozen=True)
class Topics:
    """Every topic name of one deployment (prefix from settings)."""

    raw: dict[str, str]
    events: str
    cases: str
    escalations: str
    commands: str
    audit: str
    dlq: str
    identity: str
    feeds: str
    audit_checkpoints: str
    audit_config: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        registry = load_registry(settings.partner_dir)
        partners = settings.partners or list(registry)
        unknown = sorted(set(partners) - set(registry))
        if unknown:
            raise ConfigurationError(
                f"V2V_PARTNERS names partners not in the registry {settings.partner_dir}: {unknown}"
            )
        return cls(
            raw={p: settings.topic(f"raw.{p}") for p in partners},
            events=settings.topic("events"),
            cases=settings.topic("cases"),
            escalations=settings.topic("escalations"),
            commands=settings.topic("commands"),
            audit=settings.topic("audit"),
            dlq=settings.topic("dlq"),
            identity=settings.topic("identity"),
            feeds=settings.topic("feeds"),
            audit_checkpoints=settings.topic("audit.checkpoints"),
            audit_config=settings.topic("audit.config"),
        )

    def all(self) -> list[str]:
        return [
            *self.raw.values(),
            self.events,
            self.cases,
            self.escalations,
            self.commands,
            self.audit,
            self.dlq,
            self.identity,
            self.feeds,
            self.audit_checkpoints,
            self.audit_config,
        ]

    def audit_topics(self) -> dict[str, int | None]:
        """The audit topics and their partition count (None: the deployment's)."""
        return {self.audit: None, self.audit_checkpoints: 1, self.audit_config: 1}

    def partner_of(self, topic: str) -> str:
        for partner, name in self.raw.items():
            if name == topic:
                return partner
        raise ConfigurationError(f"{topic} is not a raw partner topic")


AUDIT_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
"""Never compacted, never deleted by age or size."""


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create every topic that does not exist yet; returns the ones created. Idempotent.

    Raises ConfigurationError when the cluster refuses the connection's security and
    DeliveryError when no broker answers (:func:`hub.cluster.connect`).
    """
    admin = connect(settings)
    topics = Topics.of(settings)
    audit = topics.audit_topics()
    wanted = topics.all()
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    _keep_audit_forever(admin, [t for t in audit if t in existing], timeout_s)
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                num_partitions=audit.get(t) or settings.topic_partitions,
                replication_factor=settings.topic_replication,
                config=AUDIT_TOPIC_CONFIG if t in audit else {},
            )
            for t in missing
        ],
        operation_timeout=timeout_s,
    )
    created = []
    for topic, future in futures.items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def _keep_audit_forever(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Set the audit configuration on existing audit topics (created before it, or by hand)."""
    if not names:
        return
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in AUDIT_TOPIC_CONFIG.items()
            ],
        )
        for name in names
    ]
    for future in admin.incremental_alter_configs(resources, request_timeout=timeout_s).values():
        future.result()


def topic_config(settings: Settings, name: str, timeout_s: float = 30.0) -> dict[str, str]:
    """A topic's effective configuration (for ``v2v audit verify --live`` and the tests)."""
    admin = AdminClient(settings.kafka_config())
    resource = ConfigResource(ResourceType.TOPIC, name)
    entries = admin.describe_configs([resource], request_timeout=timeout_s)[resource].result()
    return {k: str(v.value) for k, v in entries.items()}


def drop_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Delete every topic of one deployment: its own (``<topic_prefix>.``) and Faust's internal
    ones (``<app_id>-``: changelogs, the assignor's); returns their names. For runs that own
    their deployment (a benchmark, a test), never for a hub in service: the audit topics go too.
    A broker that holds every finished run's topics makes each client's metadata slower to
    read (aiokafka decodes the whole cluster's in Python)."""
    admin = AdminClient(settings.kafka_config())
    names = [
        t
        for t in admin.list_topics(timeout=timeout_s).topics
        if t.startswith(f"{settings.topic_prefix}.") or t.startswith(f"{settings.app_id}-")
    ]
    if names:
        for future in admin.delete_topics(names, operation_timeout=timeout_s).values():
            future.result()
    return names
