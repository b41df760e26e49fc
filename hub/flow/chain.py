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
from typing import Any

from hub.audit.records import AuditHead, AuditRecord, Entry, append
from hub.cases.desk import CaseDesk
from hub.cases.escalation import EscalationPolicy
from hub.chain.engine import new_chain, rebase
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
        state = self.state
        wake = state.wake_at
        if wake is None and state.next_deadline is not None:  # a row written before wake_at
            wake = state.next_deadline.due_at
        times = [wake] if wake is not None else []
        escalation = self.desk.next_due(policy)
        if escalation is not None:
            times.append(escalation)
        return min(times, default=None)

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
        cls, row: dict[str, Any], pending: Mapping[str, dict[str, Any]] | None = None
    ) -> Chain:
        """A row as :meth:`to_row` wrote it, today or in an earlier version of the hub (a row
        without an audit head starts its hash chain at the next record); ``pending`` holds the
        rows of its pending records when the row names them by id (one that is missing is left
        out: the chain store reports it)."""
        state = row["state"]
        complete = True
        if "pending_ids" in state:
            coi_id, rows = state["coi_id"], pending or {}
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
