"""The flow core: what each record does, decided once for every driver.

The hub's clock: a record is judged as of the moment the hub received it (an event's
``source.received_at``, a tick's time, a command's time). Case detection times, escalation times
and re-escalations follow from that clock, so a replay of the same records reaches the same
cases, versions and escalations as the live worker did, on any day it runs.

Every record a chain takes and every case version it makes is also an audit record on the
chain's hash chain (:mod:`hub.audit.records`), numbered from the head kept in the chain's row:
the same records in the same order give the same audit records, live or replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from connectors.base import Connector, ConnectorConfig, RawMessage, Rejection
from connectors.registry import CONNECTORS, get_connector
from hub.audit.records import (
    AuditRecord,
    Entry,
    case_entry,
    command_entry,
    event_entry,
    rejected_entry,
    rejection_entry,
)
from hub.cases.commands import CaseCommand, CommandRejected
from hub.cases.desk import command as desk_command
from hub.cases.desk import receive_findings
from hub.cases.desk import tick as desk_tick
from hub.cases.escalation import EscalationPolicy, load_policy
from hub.chain.engine import apply
from hub.chain.links import links_taught, routing_key
from hub.chain.profiles import DEFAULT_PROFILE, ProductProfile, load_profiles
from hub.chain.state import ChainState
from hub.errors import ConfigurationError
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
from hub.flow.chain import Chain, IndexEntry
from hub.flow.feeds import feed_step, heard_step
from hub.flow.records import Ingested, Routed, Step, Teach, ToChain, ToResolver
from hub.flow.screen import screen
from hub.partners import load_registry
from hub.partners.health import Dependent, FeedPolicy, is_feed_key
from hub.settings import Settings

MAX_PARKED = 10_000
"""Events one secondary id may keep waiting for its COI link; more are dead-lettered."""

CHAIN_FAILURE = "CHAIN_FAILURE"


class IdentityIndex(Protocol):
    """The identifier index (secondary id -> COI) and the events parked until their link."""

    def linked(self, key: str) -> str | None: ...

    def link(self, key: str, coi_id: str) -> None: ...

    def parked_count(self, key: str) -> int: ...

    def park(self, key: str, event: Event) -> None: ...

    def unpark(self, key: str) -> list[Event]: ...


def tick_event(when: datetime, partition: int = 0, clock: str = "simulated") -> Event:
    """A CLOCK_TICK at ``when`` for one events partition (``wall`` or ``simulated`` clock)."""
    stamp = when.isoformat()
    return Event(
        event_id=derive_id("tick", clock, stamp, partition),
        event_type=EventType.CLOCK_TICK,
        occurred_at=when,
        recorded_at=when,
        source=Source(partner="hub", system="clock", message_id=stamp, received_at=when),
        detail=ClockTickDetail(clock=clock, partition=partition),
    )


def link_conflict(teach: Teach, known: str) -> Event:
    """A second COI claims an id already linked: a failed identity check on the claimant's
    chain, dated by the claiming event (the first link stands; nothing is overwritten)."""
    kind, _, value = teach.key.partition(":")
    claimant = teach.coi_id
    return Event(
        event_id=derive_id("link-conflict", teach.key, claimant),
        event_type=EventType.IDENTITY_VERIFIED,
        occurred_at=teach.occurred_at,
        recorded_at=teach.received_at,
        source=Source(
            partner="hub",
            system="identity-index",
            message_id=teach.key,
            received_at=teach.received_at,
        ),
        coi_id=claimant,
        identifiers=Identifiers(other={"link_conflict": known}),
        detail=IdentityCheckDetail(
            checkpoint="identifier-link",
            expected={kind: f"{value} (linked to {known})"},
            scanned={kind: f"{value} (claimed by {claimant})"},
            matched=False,
        ),
    )


class FlowCore:
    """Every decision of the pipeline, for one deployment's connectors, profiles and policy."""

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        profiles: Mapping[str, ProductProfile],
        policy: EscalationPolicy,
        feeds: Mapping[str, FeedPolicy] | None = None,
        audit: bool = True,
    ) -> None:
        if DEFAULT_PROFILE not in profiles:
            raise ValueError(f"the product profiles lack {DEFAULT_PROFILE!r}")
        self.connectors = dict(connectors)
        self.profiles = dict(profiles)
        self.policy = policy
        self.feeds = dict(feeds or {})
        """The partner feeds whose health the ticks judge (from the registry), by partner id."""
        self.audit = audit  # off only to measure the audit trail's cost (V2V_AUDIT_ENABLED)

    @classmethod
    def from_files(
        cls,
        profile_dir: Path,
        policy_file: Path,
        pseudonym_key: bytes,
        partners: Iterable[str] | None = None,
        partner_dir: Path | None = None,
        audit: bool = True,
    ) -> FlowCore:
        """The core for these product profiles, escalation policy and partners: each partner of
        the registry in ``partner_dir`` read by its connector configured from its entry (every
        partner when ``partners`` is None); without a registry, every connector by its own name
        with its defaults."""
        connectors: dict[str, Connector] = {}
        feeds: dict[str, FeedPolicy] = {}
        wanted = list(partners) if partners is not None else None
        if partner_dir is not None:
            registry = load_registry(partner_dir)
            unknown = sorted(set(wanted or ()) - set(registry))
            if unknown:
                raise ConfigurationError(f"partners {unknown} are not in registry {partner_dir}")
            for pid in wanted if wanted is not None else registry:
                entry = registry[pid]
                config = ConnectorConfig(
                    pseudonym_key=pseudonym_key,
                    time_zone=entry.time_zone,
                    partner_options=entry.connector_options(),
                )
                connectors[pid] = get_connector(entry.connector, config)
                feeds[pid] = FeedPolicy.of(entry)
        else:
            config = ConnectorConfig(pseudonym_key=pseudonym_key)
            for name in wanted if wanted is not None else CONNECTORS:
                connectors[name] = get_connector(name, config)
        return cls(connectors, load_profiles(profile_dir), load_policy(policy_file), feeds, audit)

    @classmethod
    def from_settings(cls, settings: Settings, partners: Iterable[str] | None = None) -> FlowCore:
        return cls.from_files(
            settings.profile_dir,
            settings.escalation_policy_file,
            settings.pseudonym_secret(),
            partners,
            settings.partner_dir,
            settings.audit_enabled,
        )

    # --- edge and routing --------------------------------------------------------------------

    def ingest(self, raw: RawMessage) -> Ingested:
        """What one raw partner message becomes: events routed to their chain or the resolver,
        identifier links to teach, or a dead letter with the connector's reason."""
        result = self.connectors[raw.partner].process(raw)
        if result.rejection is not None:
            return Ingested(raw.partner, dead=(result.rejection,), rejected=True)
        routed: list[Routed] = []
        dead: list[Rejection] = []
        for event in result.events:
            outcome = self.route(event)
            if isinstance(outcome, Rejection):
                dead.append(outcome)
            else:
                routed.extend(outcome)
        return Ingested(raw.partner, tuple(routed), tuple(dead))

    def route(self, event: Event) -> list[Routed] | Rejection:
        """Events with a COI go to their chain and teach the index every id they link; events
        with only secondary ids go to the resolver, keyed by the id it resolves them by. An
        event that fails the screen (:mod:`hub.flow.screen`) goes nowhere but the dead letters."""
        refused = screen(event, self.profiles, "route")
        if refused is not None:
            return refused
        if event.coi_id:
            teach = [
                Teach(key, event.coi_id, event.occurred_at, event.source.received_at)
                for key in links_taught(event)
            ]
            return [ToChain(event), *teach]
        key = routing_key(event)
        if key is None:
            return _no_coi(
                event, f"{event.event_type.value} carries neither a COI nor a linkable id"
            )
        return [ToResolver(key, event)]

    # --- identity resolution -----------------------------------------------------------------

    def teach(self, index: IdentityIndex, teach: Teach) -> tuple[list[Event], Event | None]:
        """Record a link. Returns the parked events it releases (re-keyed to their COI) and,
        when another COI holds the id already, the conflict event for the claimant's chain."""
        known = index.linked(teach.key)
        if known is None:
            index.link(teach.key, teach.coi_id)
            released = index.unpark(teach.key)
            return [e.model_copy(update={"coi_id": teach.coi_id}) for e in released], None
        if known != teach.coi_id:
            return [], link_conflict(teach, known)
        return [], None

    def resolve(self, index: IdentityIndex, key: str, event: Event) -> Event | Rejection | None:
        """An event without COI: re-keyed when ``key`` is linked, else parked (None) until
        its link arrives, or dead-lettered when too many wait for the same id."""
        known = index.linked(key)
        if known is not None:
            return event.model_copy(update={"coi_id": known})
        if index.parked_count(key) >= MAX_PARKED:
            return Rejection(
                code="UNLINKED_OVERFLOW",
                reason=f"{key} has {MAX_PARKED} events waiting for a COI link",
                partner=event.source.partner,
                stage="resolve",
                message_id=event.source.message_id,
            )
        index.park(key, event)
        return None

    # --- one chain -----------------------------------------------------------------------------

    def profile_for(self, state: ChainState, event: Event) -> ProductProfile:
        named = state.product_profile
        if isinstance(event.detail, ScheduleDetail) and event.detail.product_profile:
            named = event.detail.product_profile  # the order that names the product counts
        return self.profiles.get(named or DEFAULT_PROFILE, self.profiles[DEFAULT_PROFILE])

    def on_event(self, chain: Chain | None, event: Event, partition: int | None = None) -> Step:
        """Apply one event to its chain (None: a chain not seen before). An event on the events
        topic without a COI (a direct producer's) is refused: it names no chain; so is one that
        fails the screen (a direct producer's record has not been routed)."""
        if not event.coi_id:
            return Step(failure=_no_coi(event, "no COI, and no identifier link resolved one"))
        if is_feed_key(event.coi_id):
            return Step(failure=_no_coi(event, f"{event.coi_id!r} is a partner feed's key"))
        refused = screen(event, self.profiles, "chain")
        if refused is not None:
            return Step(failure=refused)
        known = chain or Chain.new(event.coi_id)
        try:
            return self._step(known, event, partition, event.source.received_at)
        except Exception as exc:  # a rule or engine fault must not stop every other chain
            return Step(failure=_failure(exc, event))

    def on_tick(self, chain: Chain, tick: Event) -> Step:
        """A clock tick on a chain with something due: deadlines and re-escalations."""
        try:
            return self._step(chain, tick, chain.state.partition, tick.occurred_at)
        except Exception as exc:
            return Step(failure=_failure(exc, tick))

    def _step(self, chain: Chain, event: Event, partition: int | None, now: datetime) -> Step:
        state, findings = apply(chain.state, event, self.profile_for(chain.state, event))
        desk, cases, escalations = receive_findings(chain.desk, findings, now, self.policy)
        is_tick = event.event_type is EventType.CLOCK_TICK
        if is_tick:
            desk, overdue = desk_tick(desk, event.occurred_at, self.policy)
            escalations = escalations + overdue
        if state is chain.state and desk is chain.desk:
            return Step()
        if partition is not None and state.partition != partition:
            state = state.model_copy(update={"partition": partition})
        entries = [event_entry(event), *(case_entry(c, now) for c in cases)]
        changed, audit = self._audited(replace(chain, state=state, desk=desk), entries)
        return Step(
            chain=changed,
            cases=tuple(cases),
            escalations=tuple(escalations),
            audit=audit,
            timeline=() if is_tick else (event,),
        )

    def _audited(self, chain: Chain, entries: list[Entry]) -> tuple[Chain, tuple[AuditRecord, ...]]:
        """``chain`` with ``entries`` appended to its audit hash chain, and the new records."""
        return chain.audited(entries) if self.audit else (chain, ())

    def on_command(self, chain: Chain | None, coi_id: str, cmd: CaseCommand) -> Step:
        """A person's command on one of the chain's cases: a new case version, with the command
        and the version on the chain's audit trail, or its rejection on the audit trail; a
        command applied before changes nothing. A command naming no chain the hub knows has no
        trail to join: it is dead-lettered (``UNKNOWN_CHAIN``)."""
        if chain is None:
            return Step(failure=_unknown_chain(coi_id, cmd))
        if cmd.case_id not in chain.desk.cases:
            if cmd.command_id in chain.desk.applied_commands:
                return Step()
            desk = chain.desk.model_copy(
                update={"applied_commands": [*chain.desk.applied_commands, cmd.command_id]}
            )
            message = f"chain {coi_id} has no case {cmd.case_id}"
            entry = rejected_entry(cmd, "UNKNOWN_CASE", message)
            changed, audit = self._audited(replace(chain, desk=desk), [entry])
            return Step(chain=changed, audit=audit)
        desk, result = desk_command(chain.desk, cmd)
        if result is None:
            return Step()  # this command id was applied before: a replay changes nothing
        changed = replace(chain, desk=desk)  # a feed row keeps its health
        if isinstance(result, CommandRejected):
            changed, audit = self._audited(changed, [rejection_entry(cmd, result)])
            return Step(chain=changed, audit=audit)
        entries = [command_entry(cmd, result.note), case_entry(result.case, cmd.at)]
        changed, audit = self._audited(changed, entries)
        return Step(chain=changed, cases=(result.case,), audit=audit)

    def on_feed_heard(
        self,
        row: Chain | None,
        partner: str,
        at: datetime,
        dead: bool,
        source: str | None = None,
        offset: int | None = None,
        partition: int | None = None,
    ) -> Step:
        """One raw message of ``partner`` heard (``hub.flow.feeds.heard_step``): counted in its
        feed's row, judged at the next tick after its minute."""
        if partner not in self.feeds:
            return Step()  # a feed the hub does not watch
        return heard_step(partner, row, at, dead, source, offset, partition)

    def on_feed_tick(
        self,
        row: Chain | None,
        partner: str,
        tick: Event,
        chains: Callable[[], Iterable[Dependent]],
        partition: int | None = None,
    ) -> Step:
        """A clock tick on a partner's feed (``hub.flow.feeds``): what was heard from it up to
        the tick, its health judged, its cases opened, re-escalated or resolved. ``chains``:
        every chain the driver holds, in brief (their states, or their index entries)."""
        try:
            return feed_step(
                self.feeds[partner], self.policy, row, tick, chains, partition, self.audit
            )
        except Exception as exc:
            return Step(failure=_failure(exc, tick))

    def due(self, chain: Chain | IndexEntry, now: datetime) -> bool:
        """Whether a tick at ``now`` has work on ``chain``, decoded or in brief (a feed row's
        work is :meth:`on_feed_tick`'s)."""
        if is_feed_key(chain.coi_id):
            return False
        due = chain.due_at(self.policy)
        return due is not None and due <= now


def _no_coi(event: Event, reason: str) -> Rejection:
    return Rejection(
        code="NO_COI",
        reason=reason,
        partner=event.source.partner,
        stage="route",
        message_id=event.source.message_id,
    )


def _unknown_chain(coi_id: str, cmd: CaseCommand) -> Rejection:
    return Rejection(
        code="UNKNOWN_CHAIN",
        reason=f"command {cmd.command_id} on case {cmd.case_id}: no chain {coi_id!r}",
        partner="hub",
        stage="command",
        message_id=cmd.command_id,
    )


def _failure(exc: Exception, event: Event) -> Rejection:
    return Rejection(
        code=CHAIN_FAILURE,
        reason=f"{type(exc).__name__}: {exc}",
        partner=event.source.partner,
        stage="chain",
        message_id=event.source.message_id,
    )
