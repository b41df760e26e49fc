"""Topic names and idempotent topic creation (confluent-kafka AdminClient)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
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
        ]

    def partner_of(self, topic: str) -> str:
        for partner, name in self.raw.items():
            if name == topic:
                return partner
        raise ConfigurationError(f"{topic} is not a raw partner topic")


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create every topic that does not exist yet; returns the ones created. Idempotent.

    Raises ConfigurationError when the cluster refuses the connection's security and
    DeliveryError when no broker answers (:func:`hub.cluster.connect`).
    """
    admin = connect(settings)
    wanted = Topics.of(settings).all()
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
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
