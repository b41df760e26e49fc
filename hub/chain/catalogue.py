"""The exception catalogue (DOMAIN.md section 6) and the rule registry.

A rule is a small named function registered with its catalogue entry. Adding a rule is one
function + one entry (``@rule(...)``) + one scenario test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline
from hub.events.models import Event, EventType


class Timing(StrEnum):
    """When a rule's finding becomes a case (chosen per rule, for patient safety).

    * ``alarm-at-once``: decided by the record itself (a mismatching scan, an out-of-spec
      result): a case as soon as the record arrives; withdrawn by the hub if the record, judged
      in event-time order once its feeds' allowed lateness has passed, does not bear it out.
    * ``after-lateness``: depends on the order of events or on an absence: judged in event-time
      order once every record that may still arrive within its feeds' allowed lateness is in, so
      a record still in flight never raises a false case.
    """

    AT_ONCE = "alarm-at-once"
    AFTER_LATENESS = "after-lateness"
    ON_TICK = "on-tick"
    """Judged per partner feed at every clock tick, on the hub's clock (not a chain's event
    time): silence beyond the feed's freshness SLA, dead-letter rate over its sliding window.
    The hub resolves the case itself when the feed recovers."""


class Scope(StrEnum):
    """What a case is about: one patient's chain (keyed by its COI) or one partner's feed
    (keyed by ``partner:<id>``, a key no COI can take; see ``hub.partners.health``)."""

    CHAIN = "chain"
    PARTNER_FEED = "partner-feed"


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    title: str
    severity: Severity
    owner_role: str
    evidence: tuple[str, ...]
    playbook: tuple[str, ...]
    timing: Timing = Timing.AFTER_LATENESS
    awaits: tuple[EventType, ...] = ()
    """For an absence rule: the event types whose arrival it waits for; its deadline is judged
    once their allowed lateness has passed (at least the chain's own)."""
    ends_with_chain: bool = False
    """A clock of the therapy (slot, release readiness, vein-to-vein...): stops when the clinic
    ends the chain (patient withdrawn, ineligible, deceased, order revoked)."""
    scope: Scope = Scope.CHAIN

    def lateness(self, profile: ProductProfile) -> timedelta:
        """How long after its deadline, on the hub's clock, this code's absence is judged."""
        waits = [profile.late_sla(t) for t in self.awaits]
        return max([profile.allowed_lateness, *waits])

    def finding(
        self,
        state: ChainState,
        subject: str,
        occurred_at: datetime,
        summary: str,
        evidence_event_ids: Iterable[str],
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this entry's code on ``state``'s chain."""
        return Finding(
            code=self.code,
            coi_id=state.coi_id,
            subject=subject,
            occurred_at=occurred_at,
            summary=summary,
            evidence_event_ids=list(dict.fromkeys(evidence_event_ids)),
            severity=severity,
        )

    def due_finding(self, state: ChainState, due: Deadline) -> Finding:
        """The finding of a fallen-due deadline, with the summary and evidence it was armed
        with, at its due time."""
        return self.finding(state, due.subject, due.due_at, due.summary, due.evidence_event_ids)

    @property
    def playbook_url(self) -> str:
        """The code's continuity playbook (see :func:`playbook_url`)."""
        return playbook_url(self.code)


CONTINUITY_DOC = "docs/continuity.md"
"""What to do, who decides and which patients are affected: a section per exception code, its
anchor the code in lower case, and one per partner outage."""


def playbook_url(code: str) -> str:
    """``docs/continuity.md#<code in lower case>``: the URL path, relative to the repository
    root, of the continuity playbook of ``code``; derived, so a new code needs only its section."""
    return f"{CONTINUITY_DOC}#{code.lower()}"


BUSINESS_EVENTS: tuple[EventType, ...] = tuple(
    t for t in EventType if t is not EventType.CLOCK_TICK
)
"""Every event type but the clock tick: for rules that look at any partner event."""

EventRule = Callable[[ChainState, Event, ProductProfile], Iterable[Finding]]
DeadlineRule = Callable[[ChainState, Deadline, ProductProfile], Iterable[Finding]]


@dataclass
class Registry:
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)
    by_event: dict[EventType, list[EventRule]] = field(default_factory=dict)
    on_deadline: dict[str, DeadlineRule] = field(default_factory=dict)

    def add(self, entry: CatalogueEntry) -> None:
        if entry.code in self.entries and self.entries[entry.code] != entry:
            raise ValueError(f"catalogue entry {entry.code} registered twice")
        self.entries[entry.code] = entry


REGISTRY = Registry()


def entry(
    code: str,
    title: str,
    severity: Severity,
    owner_role: str,
    evidence: Iterable[str],
    playbook: Iterable[str],
    *,
    timing: Timing,
    awaits: Iterable[EventType] = (),
    ends_with_chain: bool = False,
    scope: Scope = Scope.CHAIN,
) -> CatalogueEntry:
    """Declare a catalogue entry once (module level, next to its rule)."""
    item = CatalogueEntry(
        code,
        title,
        severity,
        owner_role,
        tuple(evidence),
        tuple(playbook),
        timing,
        tuple(awaits),
        ends_with_chain,
        scope,
    )
    REGISTRY.add(item)
    return item


def rule(*event_types: EventType) -> Callable[[EventRule], EventRule]:
    """Register ``fn`` to run on every event of ``event_types`` (in registration order)."""

    def register(fn: EventRule) -> EventRule:
        for event_type in event_types:
            REGISTRY.by_event.setdefault(event_type, []).append(fn)
        return fn

    return register


def deadline(code: str) -> Callable[[DeadlineRule], DeadlineRule]:
    """Register ``fn`` to run when a deadline of ``code`` falls due on a clock tick."""

    def register(fn: DeadlineRule) -> DeadlineRule:
        REGISTRY.on_deadline[code] = fn
        return fn

    return register


def catalogue(scope: Scope | None = None) -> list[CatalogueEntry]:
    """Every registered entry (of ``scope``, when given), most severe first, then by code."""
    import hub.chain.rules  # noqa: F401  (registers the rules)

    order = list(Severity)
    entries = [e for e in REGISTRY.entries.values() if scope is None or e.scope is scope]
    return sorted(entries, key=lambda e: (order.index(e.severity), e.code))


def lookup(code: str) -> CatalogueEntry:
    import hub.chain.rules  # noqa: F401

    return REGISTRY.entries[code]


# --- partner feed health (hub.partners.health): cases about a feed, not one patient's chain ---

PARTNER_FEED_SILENT = entry(
    "PARTNER_FEED_SILENT",
    "Partner feed silent beyond its freshness SLA",
    Severity.HIGH,
    "integration ops",
    evidence=(
        "last message the hub received from the partner and its freshness SLA (registry cadence)",
        "chains that depend on the partner in the next 72 h, each with its nearest deadline",
    ),
    playbook=(
        "Check the partner's delivery path (endpoint, credentials, file drop, raw topic lag)",
        "Call the partner's integration contact (registry entry) and ask for a resend",
        "For each chain listed, warn the owner of its nearest deadline: it may pass unreported",
        "The hub resolves the case when the partner speaks again; confirm nothing was lost",
    ),
    timing=Timing.ON_TICK,
    scope=Scope.PARTNER_FEED,
)
PARTNER_FEED_DEGRADED = entry(
    "PARTNER_FEED_DEGRADED",
    "Partner feed dead-letter rate above its limit",
    Severity.MEDIUM,
    "integration ops",
    evidence=(
        "messages and dead letters of the partner in the sliding window, the limit (registry)",
        "the dead-letter topic: each rejected message with its reason",
    ),
    playbook=(
        "Read the dead letters' reasons (v2v.dlq headers) and group them by code",
        "A changed dialect or code list: update the registry entry or the connector",
        "Bad data at the partner: ask for a fix and a resend of the rejected messages",
        "The hub resolves the case once the rate in the window is back within the limit",
    ),
    timing=Timing.ON_TICK,
    scope=Scope.PARTNER_FEED,
)
