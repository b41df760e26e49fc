"""One chain's record: the engine's state, the case desk and the audit head, written together.

One table row per chain (key: COI) holds all three, so events, commands and clock ticks of a
chain are applied in one order by the one worker that owns its partition. The desk is the
chain's one memory of its cases; the audit head (``seq`` and ``hash`` of the chain's last audit
record, :mod:`hub.audit.records`) lets a restarted worker continue the chain's hash chain.

A partner's feed has a row of the same kind (key ``partner:<id>``, never a COI): its cases on
the desk and its health in ``feed`` (``hub.partners.health``); its state is an empty chain's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from hub.audit.records import AuditHead, AuditRecord, Entry, append
from hub.cases.desk import CaseDesk, next_escalation
from hub.cases.escalation import EscalationPolicy
from hub.chain.engine import new_chain, rebase
from hub.chain.findings import Severity
from hub.chain.state import ChainState
from hub.partners.health import FeedHealth


@dataclass(frozen=True)
class Chain:
    state: ChainState
    desk: CaseDesk = field(default_factory=CaseDesk)
    feed: FeedHealth | None = None
    audit: AuditHead = field(default_factory=AuditHead)

    @classmethod
    def new(cls, coi_id: str) -> Chain:
        return cls(state=new_chain(coi_id))

    def audited(self, entries: list[Entry]) -> tuple[Chain, tuple[AuditRecord, ...]]:
        """This chain with ``entries`` appended to its audit hash chain, and the new records."""
        head, records = append(self.coi_id, self.audit, entries, self.state.stage)
        return replace(self, audit=head), records

    @property
    def coi_id(self) -> str:
        return self.state.coi_id

    def due_at(self, policy: EscalationPolicy) -> datetime | None:
        """When a clock tick next has work on this chain: a deadline or a re-escalation."""
        return _earliest(_wake(self.state), self.desk.next_due(policy))

    def summary(self) -> dict[str, Any]:
        """The chain in brief (JSON): what the read model and ``v2v replay`` show."""
        state = self.state
        nxt = state.next_deadline
        return {
            "coi_id": state.coi_id,
            "stage": state.stage,
            "product_profile": state.product_profile,
            "holder": state.custody.holder,
            "event_count": state.event_count,
            "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
            "next_deadline": (
                {"code": nxt.code, "subject": nxt.subject, "due_at": nxt.due_at.isoformat()}
                if nxt
                else None
            ),
            "open_cases": sorted(
                c.case_id for c in self.desk.cases.values() if not c.status.closed
            ),
            "milestones": {k: v.isoformat() for k, v in state.milestones.items()},
            "judged_until": state.frontier.isoformat() if state.frontier else None,
            "pending": len(state.pending),
            "feeds": {partner: at.isoformat() for partner, at in sorted(state.feeds.items())},
            **({"feed_health": self.feed.summary()} if self.feed is not None else {}),
        }

    def to_row(self, *, pending: bool = True) -> dict[str, Any]:
        """The table row (JSON), readable with any Kafka tool. With ``pending=False`` the
        records still waiting for their lateness and the recent judged ones are named by event
        id only (``state.pending_ids``; ``state.recent_count``: the last processed ids) and
        the base by its key
        (``state.base_id``): the chain store keeps each in a row of its own
        (:func:`pending_key`), written once, instead of rewriting them all with every change of
        the chain."""
        if pending:
            state = self.state.model_dump(mode="json")
        else:
            state = self.state.model_dump(mode="json", exclude={"pending", "recent", "base"})
            state["pending_ids"] = [e.event_id for e in self.state.pending]
            state["recent_count"] = len(self.state.recent)  # the last processed ids
            state["base_id"] = base_id(self.state)
        row = {
            "state": state,
            "desk": self.desk.model_dump(mode="json"),
            "audit": self.audit.model_dump(mode="json"),
        }
        if self.feed is not None:
            row["feed"] = self.feed.model_dump(mode="json")
        return row

    @classmethod
    def from_row(
        cls, row: dict[str, Any], pending: Mapping[str, dict[str, Any] | None] | None = None
    ) -> Chain:
        """A row as :meth:`to_row` wrote it, today or in an earlier version of the hub (a row
        without an audit head starts its hash chain at the next record); ``pending`` holds the
        rows of its pending records when the row names them by id (one that is missing is left
        out: the chain store reports it)."""
        state = row["state"]
        complete = True
        if "pending_ids" in state:
            coi_id, rows = state["coi_id"], {} if pending is None else pending
            named = ("pending_ids", "recent_count", "base_id")
            ids = {name: state.get(name) for name in named}
            state = {k: v for k, v in state.items() if k not in named}
            ids["recent_ids"] = recent_ids(state, ids["recent_count"])
            for field_name in ("pending", "recent"):
                keys = [pending_key(coi_id, i) for i in ids[f"{field_name}_ids"] or ()]
                state[field_name] = [rows[k] for k in keys if rows.get(k) is not None]
                complete = complete and len(state[field_name]) == len(keys)
            if ids["base_id"] is not None:
                state["base"] = rows.get(pending_key(coi_id, ids["base_id"]))
                complete = complete and state["base"] is not None
        judged = ChainState.model_validate(state)
        if not complete:  # what cannot be re-judged in full is not re-judged
            judged = judged.model_copy(update={"base": None, "recent": [], "recent_at": {}})
        feed = row.get("feed")
        return cls(
            state=rebase(judged),
            desk=CaseDesk.model_validate(row["desk"]),
            feed=FeedHealth.model_validate(feed) if feed is not None else None,
            audit=AuditHead.model_validate(row.get("audit") or {}),
        )


def _wake(state: ChainState) -> datetime | None:
    wake = state.wake_at
    if wake is None and state.next_deadline is not None:  # a row written before wake_at
        wake = state.next_deadline.due_at
    return wake


def _earliest(*times: datetime | None) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


Tally = tuple[str, str, str]  # (severity, code, sla) of an open case: CaseDesk.open_cases


class Due(NamedTuple):
    """A deadline of a chain, in its index entry (``hub.chain.state.Deadline`` in brief)."""

    code: str
    subject: str
    due_at: datetime


@dataclass(frozen=True)
class IndexEntry:
    """A chain in brief, for a worker that must not decode every chain to start: its events
    ``partition``, its ``stage``, when a clock tick next has work on it (its ``wake`` time and
    the escalation ``marks`` of its open cases, judged against the policy of the day by
    :meth:`due_at`), its ``open_cases`` tally, its ``audit`` head (seq, hash), how many
    ``rows`` of its own (pending and recent records, base: :func:`row_ids`) its row names, and
    the ``feeds`` that reported on it with its ``deadlines`` (what a partner's silence puts at
    risk: :func:`hub.partners.health.at_risk` reads an entry as it reads a chain's state). The
    chain store numbers each entry it writes (``version``, not part of an entry's equality) and
    the chain's row names that number, so a row and an index row that do not belong together
    are told apart."""

    coi_id: str
    partition: int
    stage: str
    wake: datetime | None = None
    marks: tuple[tuple[Severity, int, datetime], ...] = ()
    open_cases: tuple[tuple[Tally, int], ...] = ()
    audit: tuple[int, str] | None = None
    rows: int = 0
    version: int = field(default=0, compare=False)
    feeds: tuple[str, ...] = ()
    deadlines: tuple[Due, ...] = ()

    @classmethod
    def of(cls, chain: Chain, partition: int) -> IndexEntry:
        state, head = chain.state, chain.audit
        return cls(
            coi_id=chain.coi_id,
            partition=partition,
            stage=state.stage,
            wake=_wake(state),
            marks=tuple(sorted(chain.desk.marks())),
            open_cases=tuple(sorted(chain.desk.open_cases().items())),
            audit=(head.seq, head.hash) if head.hash is not None else None,
            rows=len(row_ids(state)),
            feeds=tuple(sorted(state.feeds)),
            deadlines=tuple(sorted(Due(d.code, d.subject, d.due_at) for d in state.deadlines)),
        )

    def due_at(self, policy: EscalationPolicy) -> datetime | None:
        """:meth:`Chain.due_at` of the chain this entry stands for."""
        return _earliest(self.wake, next_escalation(self.marks, policy))

    def to_row(self) -> dict[str, Any]:
        """The index row (JSON; the key is the COI)."""
        return {
            "partition": self.partition,
            "stage": self.stage,
            "wake": self.wake.isoformat() if self.wake is not None else None,
            "marks": [[str(sev), level, at.isoformat()] for sev, level, at in self.marks],
            "open_cases": [[*tally, n] for tally, n in self.open_cases],
            "audit": list(self.audit) if self.audit is not None else None,
            "rows": self.rows,
            "version": self.version,
            "feeds": list(self.feeds),
            "deadlines": [[d.code, d.subject, d.due_at.isoformat()] for d in self.deadlines],
        }

    @classmethod
    def from_row(cls, coi_id: str, row: Mapping[str, Any]) -> IndexEntry:
        """An index row as :meth:`to_row` wrote it (ValueError, KeyError or TypeError when it is
        not one)."""
        audit = row.get("audit")
        return cls(
            coi_id=coi_id,
            partition=int(row["partition"]),
            stage=str(row["stage"]),
            wake=_time(row.get("wake")),
            marks=tuple((Severity(s), int(lv), _at(at)) for s, lv, at in row.get("marks") or ()),
            open_cases=tuple(
                ((str(sev), str(code), str(sla)), int(n))
                for sev, code, sla, n in row.get("open_cases") or ()
            ),
            audit=(int(audit[0]), str(audit[1])) if audit else None,
            rows=int(row.get("rows") or 0),
            version=int(row.get("version") or 0),
            feeds=tuple(str(f) for f in row.get("feeds") or ()),
            deadlines=tuple(
                Due(str(code), str(subject), _at(at))
                for code, subject, at in row.get("deadlines") or ()
            ),
        )


def _time(text: str | None) -> datetime | None:
    return _at(text) if text else None


def _at(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{text!r}: a time without its zone")
    return at


def row_ids(state: ChainState) -> dict[str, Any]:
    """The rows of its own a chain's row names (:meth:`Chain.to_row` with ``pending=False``):
    id (:func:`pending_key`) -> its pending and recent records and its base."""
    rows: dict[str, Any] = {e.event_id: e for e in (*state.pending, *state.recent)}
    base = base_id(state)
    if base is not None:
        rows[base] = state.base
    return rows


def pending_key(coi_id: str, event_id: str) -> str:
    """The key of one pending record's row (beside its chain's: a COI holds no space)."""
    return f"{coi_id} {event_id}"


def recent_ids(state: dict[str, Any], count: int | None) -> list[str]:
    """The ids of the recent records a row counts (the last of its processed ids)."""
    processed: list[str] = state.get("processed_event_ids", [])
    return processed[len(processed) - count :] if count else []


def base_id(state: ChainState) -> str | None:
    """The id of the row of ``state``'s base (beside its records'), None without one; a new
    base gets a new row (its key counts the records it judged), so a crash between the writes
    never pairs a chain with the wrong base."""
    base = state.base
    return None if base is None else f"~base-{len(base.processed_event_ids)}"


def is_pending_key(key: str) -> bool:
    return " " in key
