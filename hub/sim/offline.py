"""The offline runner: a scenario through the hub's pure parts, no Kafka, no Redis.

It does what the runtime (``hub/runtime/app.py``) does, in the same order: the edge prepares
each message (``Connector.prepare_raw``), the connector normalises it or rejects it (a dead
letter), events with a COI go to their chain and teach the identifier index, events without one
are re-keyed through the index or parked until their link arrives (``hub/chain/links.py``), and
each chain applies its events with the engine and turns findings into cases
(``hub.cases.lifecycle.apply_findings``). After each hourly step a simulated clock tick reaches
every chain with a due deadline. Per message it also records what the live hub will write to
the events and dead-letter topics: the live runner's barriers wait for exactly that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Connector, ConnectorConfig, RawMessage, Rejection
from connectors.registry import CONNECTORS, get_connector
from hub.cases.escalation import EscalationPolicy, escalations_for, load_policy
from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case
from hub.chain.engine import apply, new_chain
from hub.chain.links import links_taught, routing_key
from hub.chain.profiles import DEFAULT_PROFILE, ProductProfile, load_profiles
from hub.chain.state import ChainState
from hub.errors import NormalisationError
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
from hub.settings import REPO_ROOT
from hub.sim.bridge import deliver
from hub.sim.scenario import PROFILE_DIR, Message, Scenario

POLICY_FILE = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
DEV_KEY = b"dev-only-pseudonym-key-change-me"


@dataclass(frozen=True)
class DeadLetter:
    partner: str
    code: str
    reason: str
    coi: str
    step: str


@dataclass(frozen=True)
class Planned:
    """What one message becomes at the hub: the bytes the edge writes to the raw topic (when
    ``raw``), the events a stand-in writes directly, and the records the hub then writes to
    the events and dead-letter topics because of it."""

    message: Message
    payload: bytes
    raw: bool
    direct: tuple[Event, ...]
    events_out: int
    dead: int
    bridge: str | None = None


@dataclass
class Outcome:
    cases: dict[str, Case] = field(default_factory=dict)
    escalations: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)
    states: dict[str, ChainState] = field(default_factory=dict)
    plans: dict[tuple[int, str], Planned] = field(default_factory=dict)
    bridged: Counter[str] = field(default_factory=Counter)


def tick_event(at: datetime, partition: int = 0) -> Event:
    """A simulated CLOCK_TICK, shaped as the runtime's ``tick_event``."""
    stamp = at.isoformat()
    return Event(
        event_id=derive_id("tick", "simulated", stamp, partition),
        event_type=EventType.CLOCK_TICK,
        occurred_at=at,
        recorded_at=at,
        source=Source(partner="hub", system="clock", message_id=stamp, received_at=at),
        detail=ClockTickDetail(clock="simulated", partition=partition),
    )


def _conflict(key: str, known: str, claimant: str, at: datetime) -> Event:
    """The runtime's ``link_conflict`` (a failed identity check on the claimant's chain)."""
    kind, _, value = key.partition(":")
    return Event(
        event_id=derive_id("link-conflict", key, claimant),
        event_type=EventType.IDENTITY_VERIFIED,
        occurred_at=at,
        recorded_at=at,
        source=Source(partner="hub", system="identity-index", message_id=key, received_at=at),
        coi_id=claimant,
        identifiers=Identifiers(other={"link_conflict": known}),
        detail=IdentityCheckDetail(
            checkpoint="identifier-link",
            expected={kind: f"{value} (linked to {known})"},
            scanned={kind: f"{value} (claimed by {claimant})"},
            matched=False,
        ),
    )


class OfflineHub:
    def __init__(
        self,
        profiles: dict[str, ProductProfile],
        policy: EscalationPolicy,
        pseudonym_key: bytes = DEV_KEY,
    ) -> None:
        config = ConnectorConfig(pseudonym_key=pseudonym_key)
        self.connectors: dict[str, Connector] = {n: get_connector(n, config) for n in CONNECTORS}
        self.profiles, self.policy = profiles, policy
        self.out = Outcome()
        self.index: dict[str, str] = {}
        self.parked: dict[str, list[Event]] = {}
        self.now = datetime.min.replace(tzinfo=UTC)

    def _profile(self, state: ChainState, event: Event) -> ProductProfile:
        named = state.product_profile
        if isinstance(event.detail, ScheduleDetail) and event.detail.product_profile:
            named = event.detail.product_profile
        return self.profiles.get(named or DEFAULT_PROFILE, self.profiles[DEFAULT_PROFILE])

    def apply(self, coi: str, event: Event) -> None:
        states = self.out.states
        state = states.get(coi) or new_chain(coi)
        new, findings = apply(state, event, self._profile(state, event))
        refs, cases = apply_findings(new.cases, findings, self.now)
        if new is state and not cases:
            return
        states[coi] = new.model_copy(update={"cases": refs})
        for case in cases:
            known = self.out.cases.get(case.case_id)
            if known is None or known.version < case.version:
                self.out.cases[case.case_id] = case
            if case.version == 1:
                self.out.escalations += len(escalations_for(case, self.policy))

    def route(self, event: Event, message: Message) -> tuple[int, int]:
        """(events written to the events topic, dead letters) for one normalised event."""
        if event.coi_id:
            self.apply(event.coi_id, event)
            written = 1
            for key in links_taught(event):
                known = self.index.get(key)
                if known is None:
                    self.index[key] = event.coi_id
                    for waiting in self.parked.pop(key, []):
                        self.apply(
                            event.coi_id, waiting.model_copy(update={"coi_id": event.coi_id})
                        )
                        written += 1
                elif known != event.coi_id:
                    self.apply(event.coi_id, _conflict(key, known, event.coi_id, self.now))
                    written += 1
            return written, 0
        route = routing_key(event)
        if route is None:
            reason = f"{event.event_type.value} carries neither a COI nor a linkable id"
            self.out.dead_letters.append(
                DeadLetter(message.partner, "NO_COI", reason, message.coi, message.step)
            )
            return 0, 1
        known = self.index.get(route)
        if known is not None:
            self.apply(known, event.model_copy(update={"coi_id": known}))
            return 1, 0
        self.parked.setdefault(route, []).append(event)
        return 0, 0

    def deliver(self, m: Message) -> Planned:
        self.now = m.received
        connector = self.connectors[m.partner]
        try:
            payload = connector.prepare_raw(m.payload)
        except NormalisationError as exc:  # the edge refuses it: it never reaches a topic
            self.out.refused.append(DeadLetter(m.partner, exc.code, exc.reason, m.coi, m.step))
            return Planned(m, m.payload, False, (), 0, 0)
        result = connector.process(RawMessage(m.partner, payload, m.received, m.content_type))
        delivery = deliver(connector, result, m.received, m.content_type, m.repair)
        written = dead = 0
        if delivery.raw and result.rejection is not None:
            self._dead(m, result.rejection)
            dead += 1
        elif delivery.raw:
            for event in result.events:
                w, d = self.route(event, m)
                written, dead = written + w, dead + d
        for event in delivery.direct:
            assert event.coi_id, "stand-ins write events with a COI only"
            self.apply(event.coi_id, event)
            written += 1
        if delivery.bridge:
            self.out.bridged[delivery.bridge] += 1
        return Planned(m, payload, delivery.raw, delivery.direct, written, dead, delivery.bridge)

    def _dead(self, m: Message, rejection: Rejection) -> None:
        self.out.dead_letters.append(
            DeadLetter(m.partner, rejection.code, rejection.reason, m.coi, m.step)
        )

    def tick(self, at: datetime) -> None:
        self.now = at
        tick = tick_event(at)
        for coi, state in list(self.out.states.items()):
            due = state.next_deadline
            if due is not None and due.due_at <= at:
                self.apply(coi, tick)


def run_offline(
    scenario: Scenario,
    profile_dir: Path = PROFILE_DIR,
    policy_file: Path = POLICY_FILE,
    pseudonym_key: bytes = DEV_KEY,
) -> Outcome:
    """Every step of ``scenario`` through the offline hub, in simulated-time order."""
    hub = OfflineHub(load_profiles(profile_dir), load_policy(policy_file), pseudonym_key)
    for step in scenario.steps():
        for wave in step.waves:
            for message in wave:
                hub.out.plans[(message.n, message.step)] = hub.deliver(message)
        hub.tick(step.at)
    return hub.out
