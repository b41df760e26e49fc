"""What the flow core hands its drivers: where each event goes, and what a chain step emits.

Plain frozen records, no I/O: a driver turns each into a Kafka write (the worker) or a call on
its own in-memory state (``v2v replay``, the simulator, the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Rejection
from hub.audit.records import AuditRecord
from hub.cases.models import Case, Escalation
from hub.events.models import Event
from hub.flow.chain import Chain


@dataclass(frozen=True)
class ToChain:
    """An event with its COI: to the events topic, keyed by that COI."""

    event: Event

    @property
    def coi_id(self) -> str:
        assert self.event.coi_id, "ToChain carries events with a COI only"
        return self.event.coi_id


@dataclass(frozen=True)
class ToResolver:
    """An event that carries only secondary ids: to the identity topic, keyed by ``key``."""

    key: str
    event: Event


@dataclass(frozen=True)
class Teach:
    """``key`` (a secondary id) belongs to ``coi_id``, as an event told the hub: to the identity
    topic. ``occurred_at``/``received_at`` are the teaching event's, so a conflicting claim is
    dated by the evidence, not by when a worker got round to it."""

    key: str
    coi_id: str
    occurred_at: datetime
    received_at: datetime


Routed = ToChain | ToResolver | Teach


@dataclass(frozen=True)
class Ingested:
    """What one raw message became: routed records (in order) and dead letters (each a copy of
    the original message with its reason). A rejected message has exactly one dead letter."""

    partner: str
    routed: tuple[Routed, ...] = ()
    dead: tuple[Rejection, ...] = ()
    rejected: bool = False

    @property
    def events(self) -> list[Event]:
        return [r.event for r in self.routed if isinstance(r, ToChain | ToResolver)]


@dataclass(frozen=True)
class Step:
    """What one record (event, tick or command) did to one chain.

    ``chain`` is the chain's new version, or None when nothing changed (nothing to write).
    ``cases`` and ``escalations`` go to their topics, ``audit`` (the chain's new hash-chained
    audit records, in order) to the audit topic; ``failure``
    is set when the chain could not take the record: it goes to the dead-letter topic and the
    chain stays as it was.
    """

    chain: Chain | None = None
    cases: tuple[Case, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    audit: tuple[AuditRecord, ...] = ()
    failure: Rejection | None = None
    timeline: tuple[Event, ...] = field(default=())
