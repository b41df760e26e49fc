"""The offline runner: a scenario through the flow core in memory (:mod:`hub.flow.memory`), no
Kafka, no Redis: the same decisions the worker takes, in the same order.

The edge prepares each message (``Connector.prepare_raw``), the in-memory hub takes it as the
worker would, and after each hourly step a simulated clock tick reaches every chain with a due
deadline or re-escalation. Per message it also records what the live hub will write to the
events and dead-letter topics: the live runner's barriers wait for exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import RawMessage
from hub.cases.models import Case, Escalation
from hub.chain.state import ChainState
from hub.errors import NormalisationError
from hub.flow import FlowCore
from hub.flow.memory import DeadRecord, MemoryHub
from hub.partners.health import is_feed_key
from hub.settings import DEV_PSEUDONYM_KEY, REPO_ROOT
from hub.sim.scenario import PROFILE_DIR, Message, Scenario

POLICY_FILE = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
PARTNER_DIR = REPO_ROOT / "deploy" / "partners"
DEV_KEY = DEV_PSEUDONYM_KEY


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
    ``raw``: the edge did not refuse it), and the records the hub then writes to the events and
    dead-letter topics because of it."""

    message: Message
    payload: bytes
    raw: bool
    events_out: int
    dead: int


@dataclass
class Outcome:
    cases: dict[str, Case] = field(default_factory=dict)
    versions: list[Case] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)
    states: dict[str, ChainState] = field(default_factory=dict)
    plans: dict[tuple[int, str], Planned] = field(default_factory=dict)
    audit_outline: dict[str, list[str]] = field(default_factory=dict)  # COI -> its records
    audit_records: int = 0  # records of the chains (feed rows aside)


class OfflineHub:
    """A scenario's messages through a :class:`MemoryHub`, message by message."""

    def __init__(self, core: FlowCore) -> None:
        self.hub = MemoryHub(core)
        self.out = Outcome()

    def deliver(self, m: Message) -> Planned:
        connector = self.hub.core.connectors[m.partner]
        try:
            payload = connector.prepare_raw(m.payload)
        except NormalisationError as exc:  # the edge refuses it: it never reaches a topic
            self.out.refused.append(DeadLetter(m.partner, exc.code, exc.reason, m.coi, m.step))
            return Planned(m, m.payload, False, 0, 0)
        raw = RawMessage(m.partner, payload, m.received, m.content_type)
        before = len(self.hub.dead_letters)
        written = self.hub.deliver(raw)
        self._dead(m, self.hub.dead_letters[before:])
        return Planned(m, payload, True, written.events, written.dead)

    def _dead(self, m: Message, records: list[DeadRecord]) -> None:
        for record in records:
            r = record.rejection
            self.out.dead_letters.append(DeadLetter(m.partner, r.code, r.reason, m.coi, m.step))

    def finish(self) -> Outcome:
        self.out.cases = dict(self.hub.cases)
        self.out.versions = list(self.hub.versions)
        self.out.escalations = list(self.hub.escalations)
        self.out.states = {
            coi: chain.state for coi, chain in self.hub.chains.items() if not is_feed_key(coi)
        }
        chains = [r for r in self.hub.audit if not is_feed_key(r.chain)]  # a feed's row aside
        self.out.audit_records = len(chains)
        for record in chains:
            self.out.audit_outline.setdefault(record.chain, []).append(outline(record.as_json()))
        return self.out


def outline(record: dict[str, Any]) -> str:
    """An audit record in brief, the same live and offline: the offline hub ticks every chain
    with one tick, the live one with its partition's (another event id), so a tick is its time."""
    ref = record["body"].get("occurred_at") if record["kind"] == "TICK" else record["ref"]
    return f"{record['seq']} {record['kind']} {record['action']} {ref} {record['stage']}"


def run_offline(
    scenario: Scenario,
    profile_dir: Path = PROFILE_DIR,
    policy_file: Path = POLICY_FILE,
    pseudonym_key: bytes = DEV_KEY,
    partner_dir: Path = PARTNER_DIR,
) -> Outcome:
    """Every step of ``scenario`` through the offline hub, in simulated-time order, each partner
    read as its registry entry in ``partner_dir`` says (the live demo's worker does the same)."""
    core = FlowCore.from_files(profile_dir, policy_file, pseudonym_key, None, partner_dir)
    offline = OfflineHub(core)
    for step in scenario.steps():
        for wave in step.waves:
            for message in wave:
                offline.out.plans[(message.n, message.step)] = offline.deliver(message)
        offline.hub.tick(step.at)
    return offline.finish()
