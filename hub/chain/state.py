"""The patient-batch record: everything the engine knows about one chain (one COI).

Kept in the Faust table ``chains`` (JSON changelog). ``apply`` never mutates the state it is
given; it returns a new one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.events.models import UtcDatetime


class OpenHandover(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handover_id: str
    releasing_party: str | None
    receiving_party: str | None
    lane: str | None
    released_at: UtcDatetime
    release_event_id: str


class CustodyLedger(BaseModel):
    """Who holds the material now and which handovers are released but not yet accepted."""

    model_config = ConfigDict(extra="forbid")

    holder: str | None = None
    in_transit_with: str | None = None
    open_handovers: dict[str, OpenHandover] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list, description="custody event ids, in order")


class Deadline(BaseModel):
    """'B must happen by ``due_at``': fired by a clock tick at or after ``due_at``."""

    model_config = ConfigDict(extra="forbid")

    code: str
    subject: str
    due_at: UtcDatetime
    evidence_event_ids: list[str] = Field(default_factory=list)
    summary: str = ""


class CaseRef(BaseModel):
    """The case layer's memory of a case it opened for this chain (see hub.cases.lifecycle)."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    version: int
    status: str
    severity: str
    evidence_event_ids: list[str] = Field(default_factory=list)


class ChainState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coi_id: str
    product_profile: str | None = None
    partition: int | None = Field(None, description="events-topic partition this chain lives on")
    stage: str = "NEW"
    milestones: dict[str, UtcDatetime] = Field(default_factory=dict)
    identifiers: dict[str, list[str]] = Field(default_factory=dict)
    shipments: dict[str, str] = Field(default_factory=dict, description="shipment id -> status")
    custody: CustodyLedger = Field(default_factory=CustodyLedger)
    deadlines: list[Deadline] = Field(default_factory=list)
    processed_event_ids: list[str] = Field(default_factory=list)
    raised: list[str] = Field(default_factory=list, description="'code|subject' already reported")
    cases: dict[str, CaseRef] = Field(default_factory=dict)
    event_count: int = 0
    last_event_at: UtcDatetime | None = None

    @property
    def next_deadline(self) -> Deadline | None:
        return min(self.deadlines, key=lambda d: d.due_at, default=None)
