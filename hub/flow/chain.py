"""One chain's record: the engine's state, the case desk and the audit head, written together.

One table row per chain (key: COI) holds all three, so events, commands and clock ticks of a
chain are applied in one order by the one worker that owns its partition. The desk is the
chain's one memory of its cases; the audit head (``seq`` and ``hash`` of the chain's last audit
record, :mod:`hub.audit.records`) lets a restarted worker continue the chain's hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit.records import AuditHead
from hub.cases.desk import CaseDesk
from hub.cases.escalation import EscalationPolicy
from hub.chain.engine import new_chain
from hub.chain.state import ChainState


@dataclass(frozen=True)
class Chain:
    state: ChainState
    desk: CaseDesk = field(default_factory=CaseDesk)
    audit: AuditHead = field(default_factory=AuditHead)

    @classmethod
    def new(cls, coi_id: str) -> Chain:
        return cls(state=new_chain(coi_id))

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
        }

    def to_row(self) -> dict[str, Any]:
        """The table row (JSON), readable with any Kafka tool."""
        return {
            "state": self.state.model_dump(mode="json"),
            "desk": self.desk.model_dump(mode="json"),
            "audit": self.audit.model_dump(mode="json"),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Chain:
        """A row as :meth:`to_row` wrote it, today or in an earlier version of the hub (a row
        without an audit head starts its hash chain at the next record)."""
        return cls(
            state=ChainState.model_validate(row["state"]),
            desk=CaseDesk.model_validate(row["desk"]),
            audit=AuditHead.model_validate(row.get("audit") or {}),
        )
