"""The case queue's logic (pure): the SLA clock, the ranking, the filters and the counts.

The queue works on the read model's case JSON (``GET /cases`` shows the same), with a
:class:`Where` per case (the partners and sites of its evidence events) and an injected clock.

**SLA clock.** A case that is OPEN (nobody acknowledged it) breaches when the wait of its
current escalation level (``ack_within_min`` of ``escalation_policy.yaml``) runs out: the first
level counts from ``detected_at``, each next level from the previous one's due time, as the
escalation policy re-escalates (:func:`hub.cases.escalation.reescalations_due`). The clock
shows the next such due time: time left, or how long ago the last level ran out when no level
is left to wait for. An acknowledged or closed case has no acknowledgement clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.cases.escalation import EscalationPolicy
from hub.chain.findings import Severity

SEVERITIES = tuple(s.value for s in Severity)
"""Most severe first."""
SEVERITY_SHAPE = {"CRITICAL": "◆", "HIGH": "▲", "MEDIUM": "●", "LOW": "○"}
"""A shape per severity, shown beside the word, so severity never rests on colour alone."""
FILTERS = ("code", "severity", "owner_role", "partner", "site", "status")


@dataclass(frozen=True)
class Where:
    """Where a case comes from: the partners and sites (locations) of its evidence events."""

    partners: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SlaClock:
    due_at: datetime
    level: int  # the escalation level whose wait ends at due_at
    breached: bool  # no level left to wait for and the last one ran out

    def left(self, now: datetime) -> timedelta:
        return self.due_at - now


@dataclass(frozen=True)
class Row:
    case: Mapping[str, Any]
    where: Where
    clock: SlaClock | None

    @property
    def case_id(self) -> str:
        return str(self.case["case_id"])


@dataclass
class Queue:
    rows: list[Row]
    counts: dict[str, int]  # per severity, of the rows shown
    total: int  # cases before the filters
    choices: dict[str, list[str]] = field(default_factory=dict)  # filter -> values seen


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def sla_clock(case: Mapping[str, Any], policy: EscalationPolicy, now: datetime) -> SlaClock | None:
    """The next acknowledgement breach of an OPEN case (None: no clock runs)."""
    if case.get("status") != "OPEN":
        return None
    detected = parse_time(case.get("detected_at"))
    try:
        levels = policy.levels.get(Severity(str(case.get("severity")))) or []
    except ValueError:
        return None
    if detected is None:
        return None
    since, last = detected, None
    for number, level in enumerate(levels, 1):
        if level.ack_within_min is None:
            break
        due = since + timedelta(minutes=level.ack_within_min)
        if now < due:
            return SlaClock(due, number, breached=False)
        since, last = due, number
    if last is None:
        return None
    return SlaClock(since, last, breached=True)


def rank_key(row: Row, now: datetime) -> tuple[int, float, str, str]:
    """Most severe first; then the least time left (overdue first); cases without a clock
    after those with one; then the oldest."""
    severity = str(row.case.get("severity"))
    order = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    left = row.clock.left(now).total_seconds() if row.clock is not None else float("inf")
    return (order, left, str(row.case.get("opened_at", "")), row.case_id)


def matches(row: Row, filters: Mapping[str, str]) -> bool:
    """Every filter given (an empty value is no filter) holds; case-insensitive."""
    for name in FILTERS:
        wanted = (filters.get(name) or "").strip().lower()
        if not wanted:
            continue
        if name == "partner":
            have = {p.lower() for p in row.where.partners}
        elif name == "site":
            have = {s.lower() for s in row.where.sites}
        elif name == "status" and wanted == "open":
            have = {"open"} if row.case.get("status") in ("OPEN", "ACKNOWLEDGED") else set()
        else:
            have = {str(row.case.get(name, "")).lower()}
        if wanted not in have:
            return False
    return True


def build_queue(
    cases: Iterable[Mapping[str, Any]],
    where: Mapping[str, Where],
    policy: EscalationPolicy,
    filters: Mapping[str, str],
    now: datetime,
) -> Queue:
    """The ranked, filtered queue with its counts per severity and the values to filter by."""
    rows = [
        Row(c, where.get(str(c["case_id"]), Where()), sla_clock(c, policy, now))
        for c in cases
        if "case_id" in c
    ]
    choices: dict[str, set[str]] = {name: set() for name in FILTERS}
    for row in rows:
        for name in ("code", "severity", "owner_role", "status"):
            if row.case.get(name):
                choices[name].add(str(row.case[name]))
        choices["partner"] |= row.where.partners
        choices["site"] |= row.where.sites
    shown = sorted((r for r in rows if matches(r, filters)), key=lambda r: rank_key(r, now))
    counts = dict.fromkeys(SEVERITIES, 0)
    for row in shown:
        severity = str(row.case.get("severity"))
        counts[severity] = counts.get(severity, 0) + 1
    ordered = {k: _ordered(k, v) for k, v in choices.items()}
    return Queue(shown, counts, len(rows), ordered)


def _ordered(name: str, values: set[str]) -> list[str]:
    if name == "severity":
        return [s for s in SEVERITIES if s in values]
    return sorted(values)


def where_of(case: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]]) -> Where:
    """The partners and sites of a case's evidence events, from its chain's timeline entries;
    a partner feed's case (chain ``partner:<id>``) comes from that partner."""
    evidence = set(case.get("evidence_event_ids") or ())
    partners = {
        str(e["partner"]) for e in timeline if e.get("event_id") in evidence and e.get("partner")
    }
    sites = {
        str(e["location"]) for e in timeline if e.get("event_id") in evidence and e.get("location")
    }
    coi = str(case.get("coi_id", ""))
    if coi.startswith("partner:"):
        partners.add(coi.removeprefix("partner:"))
    return Where(frozenset(partners), frozenset(sites))


def describe_left(left: timedelta) -> str:
    """'12m 03s left', '2h 05m left', 'overdue 1d 3h'."""
    seconds = int(left.total_seconds())
    span = _span(abs(seconds))
    return f"{span} left" if seconds >= 0 else f"overdue {span}"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"
