"""The live runner: a scenario through the real stack (a ``v2v run`` worker, Kafka, Redis).

The barrier technique: for each hourly step, each wave's raw messages are produced to their raw
topics with their simulated receipt time (header ``v2v.received_at``), and the events a
stand-in delivers (:mod:`hub.sim.bridge`) to the events topic; then the runner waits until the
hub has written every event and dead letter the offline run predicted for them. Only then does
the step's CLOCK_TICK go out (one per events partition, sent with the next wave, so idle hours
cost nothing but their ticks): absence-of-event rules see exactly what a live hub would.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from hub.cases.models import Case, Escalation
from hub.errors import DeliveryError
from hub.events.models import Event
from hub.headers import CONTENT_TYPE_HEADER, RECEIVED_AT_HEADER
from hub.runtime.app import tick_event
from hub.runtime.deadletter import header_dict
from hub.runtime.topics import Topics
from hub.serde import wire_for
from hub.settings import Settings
from hub.sim.offline import DeadLetter, Outcome, Planned
from hub.sim.report import RunResult
from hub.sim.scenario import Scenario

WAVE_TIMEOUT_S = 60.0
Headers = list[tuple[str, str | bytes | None]]


class Tail:
    """Reads a whole topic from the beginning (all partitions assigned, no consumer group)."""

    def __init__(self, settings: Settings, topic: str, keep: bool = False) -> None:
        self.keep = keep
        self.records: list[Any] = []
        self.count = self.keyed = 0
        self._consumer = Consumer(
            {**settings.kafka_config(), "group.id": "v2v-sim", "enable.auto.commit": False}
        )
        meta = self._consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise KafkaException(meta.error)
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])

    def pump(self, timeout: float = 0.02) -> None:
        for msg in self._consumer.consume(num_messages=1000, timeout=timeout):
            if msg.error() is not None:
                continue
            self.count += 1
            self.keyed += 1 if msg.key() else 0
            if self.keep:
                self.records.append(msg)

    def until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                return False
            self.pump()
        return True

    def reach(self, target: int, timeout_s: float, keyed: bool = False) -> bool:
        """Read until ``target`` records (with a key, when ``keyed``: ticks have none)."""
        return self.until(lambda: (self.keyed if keyed else self.count) >= target, timeout_s)

    def drain(self, quiet_s: float) -> None:
        """Read until nothing new arrived for ``quiet_s`` seconds."""
        last, seen = time.monotonic(), self.count
        while time.monotonic() - last < quiet_s:
            self.pump(0.1)
            if self.count != seen:
                last, seen = time.monotonic(), self.count

    def close(self) -> None:
        self._consumer.close()


class Sender:
    """One idempotent producer; ``send`` returns once Kafka acknowledged every record."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        self.settings, self.topics = settings, topics
        self.wire = wire_for(
            Event, settings.wire_format, topics.events, settings.schema_registry_url
        )
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "enable.idempotence": True,
                "linger.ms": 1,
                "partitioner": "murmur2_random",  # the partitioner of the hub's own writes
            }
        )

    def send(self, ticks: list[datetime], plans: list[Planned]) -> None:
        errors: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        produce = self._producer.produce
        for at in ticks:
            for partition in range(self.settings.topic_partitions):
                tick = self.wire.encode(tick_event(at, partition, "simulated"))
                produce(
                    self.topics.events,
                    key=b"",
                    value=tick,
                    partition=partition,
                    on_delivery=delivered,
                )
        for plan in plans:
            m = plan.message
            stamp: Headers = [(RECEIVED_AT_HEADER, m.received.isoformat().encode())]
            if plan.raw:
                headers: Headers = [(CONTENT_TYPE_HEADER, m.content_type.encode()), *stamp]
                produce(self.topics.raw[m.partner], key=m.coi.encode(), value=plan.payload,
                        headers=headers, on_delivery=delivered)  # fmt: skip
            for event in plan.direct:
                produce(self.topics.events, key=m.coi.encode(), value=self.wire.encode(event),
                        headers=stamp, on_delivery=delivered)  # fmt: skip
        if self._producer.flush(30) or errors:
            raise DeliveryError(f"{len(errors)} records not acknowledged: {errors[:3]}")


class Progress:
    """A plain-text progress bar on stderr (one line per 10 % when stderr is no terminal)."""

    def __init__(self, hours: int, stream: TextIO = sys.stderr) -> None:
        self.hours, self.stream = hours, stream
        self.tty = stream.isatty()
        self._last, self._decile = 0.0, -1

    def update(self, hour: int, at: datetime, sent: int, events: int) -> None:
        share = hour / max(self.hours, 1)
        now = time.monotonic()
        if self.tty and now - self._last < 0.2 and hour < self.hours:
            return
        if not self.tty and int(share * 10) == self._decile:
            return
        self._last, self._decile = now, int(share * 10)
        bar = "#" * int(share * 30)
        line = f"[{bar:<30}] {share:4.0%} {at:%Y-%m-%d %H:%M}Z  messages {sent}  events {events}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def feed(settings: Settings, scenario: Scenario, outcome: Outcome) -> tuple[Tail, Tail]:
    """Every step through the live hub; returns the events and dead-letter readers."""
    topics = Topics.of(settings)
    sender, events, dlq = (
        Sender(settings, topics),
        Tail(settings, topics.events),
        Tail(settings, topics.dlq, keep=True),
    )
    hours = int((scenario.horizon - scenario.start).total_seconds() // 3600) + 1
    progress = Progress(hours)
    pending: list[datetime] = []
    want_events = want_dead = sent = 0
    for hour, step in enumerate(scenario.steps()):
        for wave in step.waves:
            plans = [outcome.plans[(m.n, m.step)] for m in wave]
            sender.send(pending, plans)
            pending = []
            sent += len(plans)
            want_events += sum(p.events_out for p in plans)
            want_dead += sum(p.dead for p in plans)
            if not (
                events.reach(want_events, WAVE_TIMEOUT_S, keyed=True)
                and dlq.reach(want_dead, WAVE_TIMEOUT_S)
            ):
                raise DeliveryError(
                    f"hub did not write the records of step {step.at.isoformat()} in "
                    f"{WAVE_TIMEOUT_S:g}s (events {events.keyed}/{want_events}, "
                    f"dead letters {dlq.count}/{want_dead})"
                )
        pending.append(step.at)
        progress.update(hour + 1, step.at, sent, events.keyed)
    sender.send(pending, [])
    progress.close()
    return events, dlq


def _cases(settings: Settings, topics: Topics, want: int) -> tuple[list[Case], int]:
    """The latest version of every case (waiting for ``want`` of them) and the escalations."""
    registry = settings.schema_registry_url
    case_wire = wire_for(Case, settings.wire_format, topics.cases, registry)
    esc_wire = wire_for(Escalation, settings.wire_format, topics.escalations, registry)
    cases = Tail(settings, topics.cases, keep=True)
    escalations = Tail(settings, topics.escalations, keep=True)
    latest: dict[str, Case] = {}

    def decoded() -> int:
        for record in cases.records:
            case = case_wire.decode(record.value())
            if case.case_id not in latest or latest[case.case_id].version < case.version:
                latest[case.case_id] = case
        cases.records.clear()
        return len(latest)

    cases.until(lambda: decoded() >= want, 120)
    for tail in (cases, escalations):
        tail.drain(quiet_s=2.0)
    decoded()
    sent = {esc_wire.decode(r.value()).escalation_id for r in escalations.records}
    cases.close()
    escalations.close()
    return list(latest.values()), len(sent)


def _dead_letters(dlq: Tail, outcome: Outcome) -> list[DeadLetter]:
    """Every dead-letter record, attributed to its message by its original bytes."""
    dlq.drain(quiet_s=1.0)
    origin = {p.payload: p.message for p in outcome.plans.values() if p.raw}
    dead: list[DeadLetter] = []
    for record in dlq.records:
        h = header_dict(record.headers())
        message = origin.get(record.value() or b"")
        dead.append(
            DeadLetter(
                h.get("v2v.errors.partner", "?"),
                h.get("v2v.errors.code", "?"),
                h.get("__connect.errors.exception.message", ""),
                message.coi if message else "?",
                message.step if message else "?",
            )
        )
    return dead


def _chains(
    settings: Settings, scenario: Scenario
) -> tuple[dict[str, str], dict[str, dict[str, datetime]]]:
    """Stage and milestones of every chain, from the Redis read model."""
    client = redis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_key_prefix}:{settings.topic_prefix}"
    stages: dict[str, str] = {}
    milestones: dict[str, dict[str, datetime]] = {}
    try:
        for chain in scenario.chains:
            raw = client.get(f"{prefix}:chain:{chain.coi}")
            summary = json.loads(raw) if raw else {}
            stages[chain.coi] = summary.get("stage", "-")
            milestones[chain.coi] = {
                k: datetime.fromisoformat(v) for k, v in summary.get("milestones", {}).items()
            }
    finally:
        client.close()
    return stages, milestones


def collect(
    settings: Settings, scenario: Scenario, outcome: Outcome, dlq: Tail, wall_s: Callable[[], float]
) -> RunResult:
    """Read what the hub produced: cases, escalations, dead letters (Kafka), chains (Redis)."""
    cases, escalations = _cases(settings, Topics.of(settings), len(outcome.cases))
    stages, milestones = _chains(settings, scenario)
    return RunResult(
        mode="live",
        cases=cases,
        escalations=escalations,
        dead_letters=_dead_letters(dlq, outcome),
        stages=stages,
        milestones=milestones,
        stand_ins=dict(outcome.bridged),
        wall_s=wall_s(),
    )
