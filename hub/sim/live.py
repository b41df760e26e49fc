"""The live runner: a scenario through the real stack (a ``v2v run`` worker, Kafka, Redis).

The barrier technique: for each hourly step, each wave's raw messages are produced to their raw
topics with their simulated receipt time (header ``v2v.received_at``); then the runner waits
until the hub has written every event and dead letter the offline run predicted for them, and a
heard note for every raw message (:mod:`hub.runtime.feeds`). Only then does the step's
CLOCK_TICK go out (one per events and feeds partition, sent with the next wave, so idle hours
cost nothing but their ticks): absence-of-event rules and partner feed health see exactly what
a live hub would. Every count is of distinct records: a record written again after a worker's
restart is no progress.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO, TypeVar

import redis
from pydantic import BaseModel

from hub.cases.models import Case, Escalation
from hub.deadletter import header_dict
from hub.errors import DeliveryError, SerializationError
from hub.headers import CONTENT_TYPE_HEADER
from hub.serde import WireFormat, wire_for
from hub.settings import Settings
from hub.sim.offline import DeadLetter, Outcome, Planned
from hub.sim.report import RunResult, first_detections
from hub.sim.scenario import Scenario
from hub.sim.stack import Feeder, TopicReader
from hub.topics import Topics

WAVE_TIMEOUT_S = 60.0
COLLECT_TIMEOUT_S = 120.0
T = TypeVar("T", bound=BaseModel)


def send(feeder: Feeder, topics: Topics, ticks: list[datetime], plans: list[Planned]) -> None:
    """The ticks owed so far, then each planned message, acknowledged by Kafka before this
    returns."""
    for at in ticks:
        feeder.queue_ticks(at)
    for plan in plans:
        m = plan.message
        if plan.raw:
            headers = [(CONTENT_TYPE_HEADER, m.content_type.encode())]
            feeder.produce(
                topics.raw[m.partner], m.coi.encode(), plan.payload, headers, at=m.received
            )
    feeder.flush()


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


@dataclass(frozen=True)
class Caused:
    """What a ``between`` hook wrote itself (poison records): the dead letters and the heard
    notes (one per raw record) the hub owes for them."""

    dead: int = 0
    raw: int = 0


def feed(
    settings: Settings,
    scenario: Scenario,
    outcome: Outcome,
    between: Callable[[int], Caused | None] | None = None,
) -> tuple[TopicReader, TopicReader]:
    """Every step through the live hub; returns the events and dead-letter readers.
    ``between(hour)`` runs after each simulated hour's records were written (the fault suite
    kills and restarts the worker, stops the broker or Redis there); it returns what it wrote
    itself (:class:`Caused`), so the barriers still wait for every record the hub owes."""
    topics = Topics.of(settings)
    feeder, events, dlq, notes = (
        Feeder(settings),
        TopicReader(settings, topics.events, keep=False),
        TopicReader(settings, topics.dlq),
        TopicReader(settings, topics.feeds, keep=False),
    )
    hours = int((scenario.horizon - scenario.start).total_seconds() // 3600) + 1
    progress = Progress(hours)
    pending: list[datetime] = []
    want_events = want_dead = want_notes = sent = 0
    for hour, step in enumerate(scenario.steps()):
        for wave in step.waves:
            plans = [outcome.plans[(m.n, m.step)] for m in wave]
            send(feeder, topics, pending, plans)
            pending = []
            sent += len(plans)
            want_events += sum(p.events_out for p in plans)
            want_dead += sum(p.dead for p in plans)
            want_notes += sum(1 for p in plans if p.raw)
            if not (
                events.reach(want_events, WAVE_TIMEOUT_S, keyed=True)
                and dlq.reach(want_dead, WAVE_TIMEOUT_S)
                and notes.reach(want_notes, WAVE_TIMEOUT_S, keyed=True)
            ):
                raise DeliveryError(
                    f"hub did not write the records of step {step.at.isoformat()} in "
                    f"{WAVE_TIMEOUT_S:g}s (events {events.distinct_keyed}/{want_events}, "
                    f"dead letters {dlq.distinct}/{want_dead}, "
                    f"heard notes {notes.distinct_keyed}/{want_notes})"
                )
        pending.append(step.at)
        progress.update(hour + 1, step.at, sent, events.distinct_keyed)
        caused = between(hour) if between is not None else None
        if caused is not None:
            want_dead += caused.dead
            want_notes += caused.raw
    send(feeder, topics, pending, [])
    feeder.close()
    notes.close()
    progress.close()
    return events, dlq


def _cases(
    settings: Settings, topics: Topics, outcome: Outcome, timeout_s: float
) -> tuple[list[Case], int, dict[str, datetime]]:
    """The latest version of every case, the distinct escalations and each case's first
    detection (version 1's ``detected_at``), read until the hub wrote
    every case version and escalation the offline run of the same flow core predicts (or the
    time is up: then what was read, and the report shows the difference)."""
    registry = settings.schema_registry_url
    case_wire = wire_for(Case, settings.wire_format, topics.cases, registry)
    esc_wire = wire_for(Escalation, settings.wire_format, topics.escalations, registry)
    versions: dict[tuple[str, int], Case] = {}
    sent: set[str] = set()
    want_versions = {(c.case_id, c.version) for c in outcome.versions}
    want_sent = {e.escalation_id for e in outcome.escalations}
    with (
        TopicReader(settings, topics.cases) as cases,
        TopicReader(settings, topics.escalations) as escalations,
    ):

        def case_versions(records: list[Any]) -> bool:
            for case in _decoded(case_wire, records):
                versions[(case.case_id, case.version)] = case
            return set(versions) >= want_versions

        def escalation_ids(records: list[Any]) -> bool:
            sent.update(e.escalation_id for e in _decoded(esc_wire, records))
            return sent >= want_sent

        cases.poll_until(case_versions, timeout_s)
        escalations.poll_until(escalation_ids, timeout_s)
    latest: dict[str, Case] = {}
    for case in versions.values():
        if case.case_id not in latest or latest[case.case_id].version < case.version:
            latest[case.case_id] = case
    return list(latest.values()), len(sent), first_detections(versions.values())


def _decoded(wire: WireFormat[T], records: list[Any]) -> list[T]:
    """The records decoded, then forgotten. A record that does not decode was not written by
    the hub (anyone may write to a topic): the hub dead-letters it, and so it is skipped here."""
    out = []
    for record in records:
        try:
            out.append(wire.decode(record.value() or b""))
        except SerializationError:
            continue
    records.clear()
    return out


def _dead_letters(dlq: TopicReader, outcome: Outcome) -> list[DeadLetter]:
    """Every dead-letter record (the feed waited for all it expected), attributed to its
    message by its original bytes."""
    dlq.pump()
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
    settings: Settings, scenario: Scenario, outcome: Outcome, timeout_s: float
) -> tuple[dict[str, str], dict[str, dict[str, datetime]]]:
    """Stage and milestones of every chain, from the Redis read model, read once every chain
    there counts the events the offline run applied to it (or the time is up)."""
    client = redis.Redis.from_url(settings.redis_url)
    prefix = f"{settings.redis_key_prefix}:{settings.topic_prefix}"
    summaries: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            for chain in scenario.chains:
                raw = client.get(f"{prefix}:chain:{chain.coi}")
                summaries[chain.coi] = json.loads(raw) if raw else {}
            behind = [
                coi
                for coi, state in outcome.states.items()
                if summaries.get(coi, {}).get("event_count", 0) < state.event_count
            ]
            if not behind or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        client.close()
    stages = {coi: s.get("stage", "-") for coi, s in summaries.items()}
    milestones = {
        coi: {k: datetime.fromisoformat(v) for k, v in s.get("milestones", {}).items()}
        for coi, s in summaries.items()
    }
    return stages, milestones


def collect(
    settings: Settings,
    scenario: Scenario,
    outcome: Outcome,
    dlq: TopicReader,
    wall_s: Callable[[], float],
    timeout_s: float = COLLECT_TIMEOUT_S,
) -> RunResult:
    """Read what the hub produced: cases, escalations, dead letters (Kafka), chains (Redis),
    waiting up to ``timeout_s`` for each to hold what the offline run predicts."""
    cases, escalations, first = _cases(settings, Topics.of(settings), outcome, timeout_s)
    stages, milestones = _chains(settings, scenario, outcome, timeout_s)
    return RunResult(
        mode="live",
        cases=cases,
        escalations=escalations,
        dead_letters=_dead_letters(dlq, outcome),
        stages=stages,
        milestones=milestones,
        wall_s=wall_s(),
        first_detected=first,
    )
