"""The in-memory hub: the flow core driven without Kafka or Redis.

``v2v replay``, the simulator's offline run and the scenario tests use it. It writes what the
worker would write to its topics into lists, in the order the worker would: a raw message's
events reach their chain (and teach the identifier index) before the next message is read,
and a raw message is counted in its partner's feed row; a clock tick reaches every chain with
something due, then every partner feed (what was heard from it up to the tick, judged by
``hub.partners.health``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import RawMessage, Rejection
from hub.audit.records import AuditRecord
from hub.cases.commands import CaseCommand
from hub.cases.models import Case, Escalation
from hub.chain.state import ChainState
from hub.events.models import Event
from hub.flow.chain import Chain
from hub.flow.core import FlowCore, tick_event
from hub.flow.records import Routed, Step, Teach, ToChain, ToResolver
from hub.partners.health import feed_key


@dataclass(frozen=True)
class DeadRecord:
    """A dead letter: the rejection and what was rejected (the raw message or the event)."""

    rejection: Rejection
    raw: RawMessage | None = None
    event: Event | None = None


@dataclass(frozen=True)
class Written:
    """The records one input made the hub write: events to the events topic, dead letters."""

    events: int = 0
    dead: int = 0


class MemoryIndex:
    """:class:`hub.flow.core.IdentityIndex` over two dicts."""

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.waiting: dict[str, list[Event]] = {}

    def linked(self, key: str) -> str | None:
        return self.links.get(key)

    def link(self, key: str, coi_id: str) -> None:
        self.links[key] = coi_id

    def parked_count(self, key: str) -> int:
        return len(self.waiting.get(key, ()))

    def park(self, key: str, event: Event) -> None:
        self.waiting.setdefault(key, []).append(event)

    def unpark(self, key: str) -> list[Event]:
        return self.waiting.pop(key, [])


@dataclass
class MemoryHub:
    core: FlowCore
    chains: dict[str, Chain] = field(default_factory=dict)
    index: MemoryIndex = field(default_factory=MemoryIndex)
    cases: dict[str, Case] = field(default_factory=dict)
    versions: list[Case] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    dead_letters: list[DeadRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)

    # --- inputs --------------------------------------------------------------------------------

    def deliver(self, raw: RawMessage) -> Written:
        """One raw partner message, as the worker's normaliser and chain agent take it."""
        ingested = self.core.ingest(raw)
        row = self.chains.get(feed_key(raw.partner))
        heard = self.core.on_feed_heard(row, raw.partner, raw.received_at, bool(ingested.dead))
        self._record(heard, None)
        for rejection in ingested.dead:
            self.dead_letters.append(DeadRecord(rejection, raw=raw))
        return Written(self._route(ingested.routed), len(ingested.dead))

    def inject(self, event: Event, *, route: bool = True) -> Written:
        """A canonical event written to the hub directly: routed like a connector's output
        (``route``), or straight to its chain as a record produced to the events topic."""
        if not route:
            return Written(self._to_chain(event), 0)
        outcome = self.core.route(event)
        if isinstance(outcome, Rejection):
            self.dead_letters.append(DeadRecord(outcome, event=event))
            return Written(0, 1)
        return Written(self._route(outcome), 0)

    def tick(self, at: datetime, partition: int = 0, event: Event | None = None) -> None:
        """A clock tick (simulated, or ``event``: a recorded one): every chain with a deadline
        or re-escalation due by ``at``, then every partner feed."""
        tick = event or tick_event(at, partition, "simulated")
        for chain in list(self.chains.values()):
            if self.core.due(chain, at):
                self._record(self.core.on_tick(chain, tick), tick)
        for partner in self.core.feeds:
            row = self.chains.get(feed_key(partner))
            self._record(self.core.on_feed_tick(row, partner, tick, self._states), tick)

    def command(self, coi_id: str, cmd: CaseCommand) -> None:
        self._record(self.core.on_command(self.chains.get(coi_id), coi_id, cmd), None)

    # --- views ---------------------------------------------------------------------------------

    def latest_cases(self) -> list[Case]:
        return sorted(self.cases.values(), key=lambda c: (c.coi_id, c.code, c.subject))

    # --- internals -----------------------------------------------------------------------------

    def _route(self, routed: Iterable[Routed]) -> int:
        """Each routed record where the worker would write it; returns the events written."""
        events = 0
        for record in routed:
            if isinstance(record, ToChain):
                events += self._to_chain(record.event)
            elif isinstance(record, ToResolver):
                events += self._resolve(record.key, record.event)
            else:
                events += self._teach(record)
        return events

    def _to_chain(self, event: Event) -> int:
        known = self.chains.get(event.coi_id) if event.coi_id else None
        self._record(self.core.on_event(known, event), event)
        return 1

    def _resolve(self, key: str, event: Event) -> int:
        outcome = self.core.resolve(self.index, key, event)
        if isinstance(outcome, Rejection):
            self.dead_letters.append(DeadRecord(outcome, event=event))
            return 0
        if outcome is None:
            return 0
        return self._to_chain(outcome)

    def _teach(self, teach: Teach) -> int:
        released, conflict = self.core.teach(self.index, teach)
        written = 0
        for event in [*released, *([conflict] if conflict else [])]:
            written += self._to_chain(event)
        return written

    def _states(self) -> Iterable[ChainState]:
        return [c.state for c in self.chains.values()]

    def _record(self, step: Step, event: Event | None) -> None:
        if step.failure is not None:
            self.dead_letters.append(DeadRecord(step.failure, event=event))
        if step.chain is not None:
            self.chains[step.chain.coi_id] = step.chain
        for case in step.cases:
            self.versions.append(case)
            known = self.cases.get(case.case_id)
            if known is None or known.version < case.version:
                self.cases[case.case_id] = case
        self.escalations.extend(step.escalations)
        self.audit.extend(step.audit)
