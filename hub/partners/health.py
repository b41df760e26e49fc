"""Partner feed health (pure): does each partner's feed speak as often as its registry entry
says, and can the hub read what it sends?

Judged at every clock tick on the hub's clock (the tick's time), never in a chain's event time:

* **silent**: the last message the hub received from the partner lies more than its
  ``cadence.freshness_sla_min`` before the tick: ``PARTNER_FEED_SILENT``, listing the chains
  that depend on the partner in the next 72 hours, each with its nearest deadline. A chain
  depends on a partner when the partner has reported on it (``ChainState.feeds``). A feed is
  watched from its first message: a partner the hub never heard from is not live yet.
* **degraded**: over the sliding ``dead_letters.window_min``, more than ``max_rate`` of the
  partner's messages were dead-lettered (wholly or in part), once the window holds at least
  ``min_messages``: ``PARTNER_FEED_DEGRADED``.

Each episode is a case of its own (subject ``<partner>@<time>``) on the partner's feed row,
keyed ``partner:<id>``: a key no COI can take (a COI is upper-case letters and digits), so the
case desk, escalation policy, commands and read model handle it as they handle a chain's case.
When the partner speaks again (silence), or its rate is back within the limit over a window
holding ``min_messages`` (degradation), the hub resolves the case itself (actor
``hub:feed-health``).

What the hub hears is kept in the feed row itself, in whole minutes not yet judged
(:func:`hear`, one call per raw partner message, the same minute counted once however often its
message is heard again: each raw topic-partition's last offset counted is kept with them). At
each tick the flow core (``hub.flow.feeds``) hands the minutes ending by then to :func:`judge`
(:func:`take`). The row is the one record of a feed, so whichever worker reads a partner's raw
messages, the worker holding the row judges all of them. Nothing here knows patient identity: a
dependent chain is named by its pseudonymous COI only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import Field

from hub.chain.catalogue import PARTNER_FEED_DEGRADED, PARTNER_FEED_SILENT
from hub.chain.findings import Finding
from hub.events.models import Frozen, UtcDatetime
from hub.partners.models import PartnerEntry

FEED_KEY_PREFIX = "partner:"
"""A feed row's key: ``partner:<id>``. A COI is ``[A-Z0-9]`` (optionally after ``&/``), so no
chain can ever take it."""
HORIZON = timedelta(hours=72)
"""How far ahead a dependent chain's deadline puts it at risk from a silent partner."""
HUB_ACTOR = "hub:feed-health"
BUCKET = timedelta(minutes=1)
AT_RISK_KEPT = 200
"""Dependent chains kept with a silence episode (the rest are counted)."""
AT_RISK_NAMED = 20
"""Dependent chains named in the case summary (the rest are counted)."""


def feed_key(partner: str) -> str:
    return f"{FEED_KEY_PREFIX}{partner}"


def is_feed_key(key: str | None) -> bool:
    return bool(key) and str(key).startswith(FEED_KEY_PREFIX)


@dataclass(frozen=True)
class FeedPolicy:
    """What the registry entry says about one partner's feed. ``names``: how chains name the
    feed in ``ChainState.feeds`` (events carry their connector's name as source partner)."""

    partner: str
    names: frozenset[str]
    freshness_sla: timedelta | None
    max_rate: float
    window: timedelta
    min_messages: int

    @classmethod
    def of(cls, entry: PartnerEntry) -> FeedPolicy:
        limit = entry.dead_letters
        sla = entry.cadence.freshness_sla_min if entry.cadence is not None else None
        return cls(
            partner=entry.id,
            names=frozenset({entry.id, entry.connector}),
            freshness_sla=timedelta(minutes=sla) if sla is not None else None,
            max_rate=limit.max_rate,
            window=timedelta(minutes=limit.window_min),
            min_messages=limit.min_messages,
        )


class Bucket(Frozen):
    """The partner's messages the hub received in the minute ending at ``end`` (received after
    ``end - 1 min``, at or before ``end``), ``dead`` of them dead-lettered; ``last`` is the
    latest receipt time among them."""

    end: UtcDatetime
    messages: int = Field(ge=0)
    dead: int = Field(ge=0)
    last: UtcDatetime


class AtRisk(Frozen):
    """A chain that depends on a silent partner, with its nearest deadline."""

    coi_id: str
    code: str
    subject: str
    due_at: UtcDatetime


class Episode(Frozen):
    """An open silence or degradation: its case's subject and since when it holds. For
    silence, ``after`` is the last message before it and ``at_risk`` the chains listed when it
    was detected (``at_risk_total`` of them in all)."""

    subject: str
    since: UtcDatetime
    after: UtcDatetime | None = None
    at_risk: tuple[AtRisk, ...] = ()
    at_risk_total: int = 0


class FeedHealth(Frozen):
    """A partner feed as the hub judged it at the last tick (kept in the feed row), with what
    it heard since: ``unjudged`` minutes (each tick takes those ending by its time) and, per raw
    topic-partition (``<topic>:<partition>``), the last offset counted in them."""

    partner: str
    last_seen: UtcDatetime | None = None
    buckets: tuple[Bucket, ...] = ()
    window_messages: int = 0
    window_dead: int = 0
    dead_letter_rate: float | None = None
    silent: Episode | None = None
    degraded: Episode | None = None
    unjudged: tuple[Bucket, ...] = ()
    heard_upto: tuple[tuple[str, int], ...] = ()

    def latest_heard(self) -> datetime | None:
        """The receipt time of the latest message heard, judged or not."""
        times = [b.last for b in self.unjudged] + ([self.last_seen] if self.last_seen else [])
        return max(times, default=None)

    def summary(self) -> dict[str, Any]:
        """The feed in brief (JSON), for the read model and ``v2v replay``."""

        def episode(e: Episode | None) -> dict[str, Any] | None:
            return None if e is None else e.model_dump(mode="json")

        return {
            "partner": self.partner,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "window": {"messages": self.window_messages, "dead_lettered": self.window_dead},
            "dead_letter_rate": self.dead_letter_rate,
            "silent": episode(self.silent),
            "degraded": episode(self.degraded),
        }


def _minute_end(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + BUCKET


def hear(
    health: FeedHealth,
    at: datetime,
    dead: bool,
    source: str | None = None,
    offset: int | None = None,
) -> FeedHealth | None:
    """``health`` having heard one message received at ``at`` (``dead``: dead-lettered wholly or
    in part), counted in its minute's bucket. ``source`` and ``offset``: where the message was
    read (raw topic-partition, offset); a message at or below the last offset counted from its
    source was counted already (a replay after a crash), and gives None. One limit: should two
    workers briefly both read a source during a rebalance and their notes interleave out of
    offset order, a message of the older reader may go uncounted."""
    upto = dict(health.heard_upto)
    if source is not None and offset is not None:
        if offset <= upto.get(source, -1):
            return None
        upto[source] = offset
    end = _minute_end(at)
    by_end = {b.end: b for b in health.unjudged}
    known = by_end.get(end)
    by_end[end] = Bucket(
        end=end,
        messages=(known.messages if known else 0) + 1,
        dead=(known.dead if known else 0) + (1 if dead else 0),
        last=max(known.last, at) if known else at,
    )
    return health.model_copy(
        update={
            "unjudged": tuple(by_end[e] for e in sorted(by_end)),
            "heard_upto": tuple(sorted(upto.items())),
        }
    )


def take(health: FeedHealth, upto: datetime) -> tuple[tuple[Bucket, ...], FeedHealth]:
    """The minutes heard ending at or before ``upto`` (a tick's time), and ``health`` without
    them: each handed over once, later ones wait for a later tick."""
    due = tuple(b for b in health.unjudged if b.end <= upto)
    if not due:
        return (), health
    rest = tuple(b for b in health.unjudged if b.end > upto)
    return due, health.model_copy(update={"unjudged": rest})


class Due(Protocol):
    """A chain's deadline, as :func:`at_risk` reads it (a ``Deadline`` of the chain's state, or
    the chain index's copy of it)."""

    @property
    def code(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...


class Dependent(Protocol):
    """A chain as :func:`at_risk` reads it: the feeds that reported on it and its deadlines
    (its ``ChainState``, or its entry in the chain index, which a worker reads without decoding
    the chain)."""

    @property
    def coi_id(self) -> str: ...
    @property
    def feeds(self) -> Collection[str]: ...
    @property
    def deadlines(self) -> Sequence[Due]: ...


def at_risk(
    states: Iterable[Dependent],
    names: Collection[str],
    now: datetime,
    horizon: timedelta = HORIZON,
) -> list[AtRisk]:
    """The chains a feed named ``names`` has reported on that have a deadline after ``now``
    and within ``horizon``, each with its nearest such deadline; soonest first."""
    until = now + horizon
    found: list[AtRisk] = []
    for state in states:
        if not any(name in state.feeds for name in names):
            continue
        ahead = [d for d in state.deadlines if now < d.due_at <= until]
        if ahead:
            d = min(ahead, key=lambda d: (d.due_at, d.code, d.subject))
            found.append(
                AtRisk(coi_id=state.coi_id, code=d.code, subject=d.subject, due_at=d.due_at)
            )
    return sorted(found, key=lambda r: (r.due_at, r.coi_id))


@dataclass(frozen=True)
class Recovery:
    """An episode over: the hub resolves its case with ``reason``."""

    code: str
    subject: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    health: FeedHealth
    findings: tuple[Finding, ...] = ()
    recovered: tuple[Recovery, ...] = ()


def merge(
    health: FeedHealth, heard: Iterable[Bucket], now: datetime, window: timedelta
) -> FeedHealth:
    """``health`` with the minutes ``heard`` (ending at or before ``now``) added and the minutes
    that left the window dropped; the window's counts and rate as of ``now``."""
    by_end = {b.end: b for b in health.buckets}
    last_seen = health.last_seen
    for b in heard:
        known = by_end.get(b.end)
        if known is not None:
            b = Bucket(
                end=b.end,
                messages=known.messages + b.messages,
                dead=known.dead + b.dead,
                last=max(known.last, b.last),
            )
        by_end[b.end] = b
        if last_seen is None or b.last > last_seen:
            last_seen = b.last
    start = now - window
    kept = tuple(by_end[end] for end in sorted(by_end) if start < end)
    messages = sum(b.messages for b in kept)
    dead = sum(b.dead for b in kept)
    return health.model_copy(
        update={
            "last_seen": last_seen,
            "buckets": kept,
            "window_messages": messages,
            "window_dead": dead,
            "dead_letter_rate": dead / messages if messages else None,
        }
    )


def judge(
    health: FeedHealth,
    policy: FeedPolicy,
    heard: Iterable[Bucket],
    now: datetime,
    tick_id: str,
    dependents: Callable[[], Iterable[Dependent]],
) -> Verdict:
    """The feed at tick ``now`` (event id ``tick_id``): its new health, the findings of
    episodes that begin (on the feed's key, ``feed_key(partner)``) and the episodes that end.
    ``dependents`` gives the chains to look through for the ones at risk; it is called only
    when a silence begins."""
    h = merge(health, heard, now, policy.window)
    findings: list[Finding] = []
    recovered: list[Recovery] = []
    key = feed_key(policy.partner)

    silent = h.silent
    spoke = _spoke_again(policy.partner, silent, h.last_seen)
    if spoke is not None:
        recovered.append(spoke)
        silent = None
    sla = policy.freshness_sla
    if silent is None and sla is not None and h.last_seen is not None and now - h.last_seen > sla:
        everyone = at_risk(dependents(), policy.names, now)
        silent = Episode(
            subject=f"{policy.partner}@{h.last_seen.isoformat()}",
            since=h.last_seen + sla,
            after=h.last_seen,
            at_risk=tuple(everyone[:AT_RISK_KEPT]),
            at_risk_total=len(everyone),
        )
        findings.append(
            Finding(
                code=PARTNER_FEED_SILENT.code,
                coi_id=key,
                subject=silent.subject,
                occurred_at=silent.since,
                summary=_silence_summary(policy, h.last_seen, sla, everyone),
                evidence_event_ids=[tick_id],
            )
        )

    degraded = h.degraded
    judged = h.window_messages >= policy.min_messages and h.dead_letter_rate is not None
    over = judged and h.dead_letter_rate is not None and h.dead_letter_rate > policy.max_rate
    window_min = policy.window.total_seconds() / 60
    figures = (
        f"{h.window_dead} of {h.window_messages} messages dead-lettered in the last "
        f"{window_min:g} min ({_pct(h.dead_letter_rate)}; limit {_pct(policy.max_rate)})"
    )
    if degraded is not None and judged and not over:
        recovered.append(
            Recovery(PARTNER_FEED_DEGRADED.code, degraded.subject, f"feed recovered: {figures}")
        )
        degraded = None
    elif degraded is None and over:
        degraded = Episode(subject=f"{policy.partner}@{now.isoformat()}", since=now)
        findings.append(
            Finding(
                code=PARTNER_FEED_DEGRADED.code,
                coi_id=key,
                subject=degraded.subject,
                occurred_at=now,
                summary=f"{policy.partner} feed degraded: {figures}",
                evidence_event_ids=[tick_id],
            )
        )
    h = h.model_copy(update={"silent": silent, "degraded": degraded})
    return Verdict(h, tuple(findings), tuple(recovered))


def _spoke_again(
    partner: str, silence: Episode | None, last_seen: datetime | None
) -> Recovery | None:
    """The end of ``silence`` when the partner spoke after its last message before it."""
    if silence is None or silence.after is None or last_seen is None:
        return None
    if last_seen <= silence.after:
        return None
    return Recovery(
        PARTNER_FEED_SILENT.code,
        silence.subject,
        f"feed recovered: {partner} spoke again at {last_seen.isoformat()} (its last message "
        f"before was received {silence.after.isoformat()})",
    )


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _silence_summary(
    policy: FeedPolicy, last_seen: datetime, sla: timedelta, everyone: list[AtRisk]
) -> str:
    head = (
        f"{policy.partner} silent: last message received {last_seen.isoformat()}, beyond its "
        f"freshness SLA of {sla.total_seconds() / 60:g} min"
    )
    if not everyone:
        return f"{head}; no chain depends on it in the next {_hours(HORIZON)} h"
    named = "; ".join(
        f"{r.coi_id} ({r.code} {r.subject} due {r.due_at.isoformat()})"
        for r in everyone[:AT_RISK_NAMED]
    )
    more = len(everyone) - AT_RISK_NAMED
    tail = f"; and {more} more" if more > 0 else ""
    return (
        f"{head}; {len(everyone)} chain(s) depend on it in the next {_hours(HORIZON)} h, "
        f"nearest deadline first: {named}{tail}"
    )


def _hours(span: timedelta) -> int:
    return int(span.total_seconds() // 3600)
