"""The patient-batch record: everything the engine knows about one chain (one COI).

Kept in the Faust table ``chains`` (JSON changelog: ``model_dump(mode="json")`` /
``model_validate``). ``apply`` never mutates the state it is given: it works on
:meth:`ChainState.clone`, which copies every mutable container and shares only immutable values
(strings, datetimes and frozen records). Records that change are replaced, never mutated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.events.models import Event, Frozen, UtcDatetime

Leg = Literal["inbound", "outbound"]
Mode = Literal["fresh", "cryo"]
_M = TypeVar("_M", bound=BaseModel)
_set = object.__setattr__


def _shallow(model: _M, **replace: object) -> _M:
    """A shallow copy of a (validated) model with some fields replaced: pydantic's own
    ``__copy__`` without its generic overhead (this runs on every event)."""
    new = model.__class__.__new__(model.__class__)
    _set(new, "__dict__", {**model.__dict__, **replace})
    _set(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


def _trusted(cls: type[_M], **fields: object) -> _M:
    """A record built from values the engine already validated (UTC datetimes from events):
    no second validation on the hot path. Every field must be given."""
    new = cls.__new__(cls)
    _set(new, "__dict__", fields)
    _set(new, "__pydantic_fields_set__", set(fields))
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


class OpenHandover(Frozen):
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
    accepted: dict[str, UtcDatetime] = Field(
        default_factory=dict, description="handover id -> acceptance time"
    )
    history: list[str] = Field(default_factory=list, description="custody event ids, in order")

    def clone(self) -> CustodyLedger:
        return _shallow(
            self,
            open_handovers=dict(self.open_handovers),
            accepted=dict(self.accepted),
            history=list(self.history),
        )


class Deadline(Frozen):
    """'B must happen by ``due_at``': fired by a clock tick at or after ``due_at``."""

    code: str
    subject: str
    due_at: UtcDatetime
    evidence_event_ids: list[str] = Field(default_factory=list)
    summary: str = ""


class MilestoneSource(Frozen):
    """Which event (and partner message) set a milestone."""

    event_id: str
    partner: str
    message_id: str


class Plan(Frozen):
    """What the order and the schedule promised; replaced as a whole when it changes."""

    order_id: str | None = None
    slot_id: str | None = None
    slot_start: UtcDatetime | None = None
    planned_ship_at: UtcDatetime | None = None
    planned_infusion_at: UtcDatetime | None = None
    collection_end: UtcDatetime | None = None
    batch_id: str | None = None
    expires_at: UtcDatetime | None = None
    thawed_at: UtcDatetime | None = None
    ld_started_at: UtcDatetime | None = None
    infused_at: UtcDatetime | None = None


class ShipmentTrack(Frozen):
    shipment_id: str
    leg: Leg
    mode: Mode
    lane: str | None = None
    logger_id: str | None = None
    departed_at: UtcDatetime | None = None
    eta: UtcDatetime | None = None
    delivered_at: UtcDatetime | None = None
    event_id: str = ""


class Excursion(Frozen):
    """An open temperature excursion on one channel (shipment or logger)."""

    mode: Mode
    started_at: UtcDatetime
    last_out_at: UtcDatetime
    first_event_id: str
    worst_c: float
    reported: bool = False


class Temperatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_reading_at: dict[str, UtcDatetime] = Field(default_factory=dict, description="channel")
    readings: dict[str, int] = Field(default_factory=dict, description="shipment -> count")
    excursions: dict[str, Excursion] = Field(default_factory=dict, description="open, by channel")
    gaps: list[str] = Field(default_factory=list, description="'shipment@gap start' reported")

    def clone(self) -> Temperatures:
        return _shallow(
            self,
            last_reading_at=dict(self.last_reading_at),
            readings=dict(self.readings),
            excursions=dict(self.excursions),
            gaps=list(self.gaps),
        )


class QcRecord(Frozen):
    test_code: str
    in_spec: bool | None
    final: bool
    event_id: str
    occurred_at: UtcDatetime


class Readiness(BaseModel):
    """Release-readiness evidence (DOMAIN.md section 1 steps 8-10)."""

    model_config = ConfigDict(extra="forbid")

    qc: dict[str, QcRecord] = Field(default_factory=dict, description="latest result per test")
    deviations: dict[str, str] = Field(default_factory=dict, description="id -> OPEN | CLOSED")
    batch_record_reviewed: bool = False
    identity_checks: dict[str, bool] = Field(default_factory=dict, description="checkpoint")
    unverified_handovers: list[str] = Field(default_factory=list)
    certified_at: UtcDatetime | None = None
    rejected_at: UtcDatetime | None = None

    def clone(self) -> Readiness:
        return _shallow(
            self,
            qc=dict(self.qc),
            deviations=dict(self.deviations),
            identity_checks=dict(self.identity_checks),
            unverified_handovers=list(self.unverified_handovers),
        )


class ChainState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_cases(cls, data: Any) -> Any:
        """Rows written before the case desk became the chain's one memory of its cases kept
        a copy here (``cases``); the desk in the same row holds the same versions."""
        if isinstance(data, dict) and "cases" in data:
            data = {k: v for k, v in data.items() if k != "cases"}
        return data

    coi_id: str
    product_profile: str | None = None
    partition: int | None = Field(None, description="events-topic partition this chain lives on")
    stage: str = "NEW"
    milestones: dict[str, UtcDatetime] = Field(
        default_factory=dict, description="event type -> earliest occurrence"
    )
    milestone_sources: dict[str, MilestoneSource] = Field(default_factory=dict)
    identifiers: dict[str, list[str]] = Field(default_factory=dict, description="kind -> seen")
    linked: dict[str, list[str]] = Field(
        default_factory=dict, description="kind -> ids linked to this COI (collection, link)"
    )
    plan: Plan = Field(default_factory=Plan)
    shipments: dict[str, str] = Field(default_factory=dict, description="shipment id -> status")
    shipment_tracks: dict[str, ShipmentTrack] = Field(default_factory=dict)
    custody: CustodyLedger = Field(default_factory=CustodyLedger)
    temperatures: Temperatures = Field(default_factory=Temperatures)
    readiness: Readiness = Field(default_factory=Readiness)
    deadlines: list[Deadline] = Field(default_factory=list)
    business_keys: dict[str, str] = Field(
        default_factory=dict, description="business key -> 'content digest first event id'"
    )
    processed_event_ids: list[str] = Field(default_factory=list)
    raised: list[str] = Field(default_factory=list, description="'code|subject' already reported")
    event_count: int = 0
    last_event_at: UtcDatetime | None = None
    # --- event time (see hub.chain.engine) ---
    clock: UtcDatetime | None = Field(None, description="the hub's clock at the last record")
    frontier: UtcDatetime | None = Field(
        None, description="event time up to which the chain has judged, in order"
    )
    pending: list[Event] = Field(
        default_factory=list, description="received, to be judged once their lateness passed"
    )
    provisional: dict[str, str] = Field(
        default_factory=dict, description="'code|subject' alarmed at once -> its event id"
    )
    feeds: dict[str, UtcDatetime] = Field(
        default_factory=dict, description="partner -> latest event time it reported"
    )
    ended_at: UtcDatetime | None = Field(None, description="the clinic ended the chain")
    wake_at: UtcDatetime | None = Field(None, description="when a tick next has work here")
    # --- re-judging (see hub.chain.engine: a record behind the frontier, on time by its stamps)
    recent: list[Event] = Field(
        default_factory=list, description="judged records after the base's frontier, in order"
    )
    recent_at: dict[str, UtcDatetime] = Field(
        default_factory=dict,
        description="event id -> where it was judged, for a recent record judged out of order",
    )
    base: ChainState | None = Field(
        None, description="the chain as judged before its recent records (None: a new chain)"
    )

    @property
    def next_deadline(self) -> Deadline | None:
        return min(self.deadlines, key=lambda d: d.due_at, default=None)

    def clone(self) -> ChainState:
        """A copy that shares no mutable container with ``self`` (cheaper than a deep copy:
        frozen records and scalars are shared)."""
        return _shallow(
            self,
            milestones=dict(self.milestones),
            milestone_sources=dict(self.milestone_sources),
            identifiers={k: list(v) for k, v in self.identifiers.items()},
            linked={k: list(v) for k, v in self.linked.items()},
            shipments=dict(self.shipments),
            shipment_tracks=dict(self.shipment_tracks),
            custody=self.custody.clone(),
            temperatures=self.temperatures.clone(),
            readiness=self.readiness.clone(),
            deadlines=list(self.deadlines),
            business_keys=dict(self.business_keys),
            processed_event_ids=list(self.processed_event_ids),
            raised=list(self.raised),
            pending=list(self.pending),
            provisional=dict(self.provisional),
            feeds=dict(self.feeds),
            recent=list(self.recent),
            recent_at=dict(self.recent_at),
        )

    # --- deadlines ------------------------------------------------------------------------

    def set_deadline(
        self,
        code: str,
        subject: str,
        due_at: datetime,
        evidence_event_ids: list[str],
        summary: str,
    ) -> None:
        """Arm (or move) the deadline of ``(code, subject)``."""
        self.clear_deadline(code, subject)
        self.deadlines.append(
            _trusted(
                Deadline,
                code=code,
                subject=subject,
                due_at=due_at,
                evidence_event_ids=evidence_event_ids,
                summary=summary,
            )
        )

    def clear_deadline(self, code: str, subject: str | None = None) -> None:
        """Disarm the deadline of ``(code, subject)``, or every deadline of ``code``."""
        self.deadlines = [
            d
            for d in self.deadlines
            if not (d.code == code and (subject is None or d.subject == subject))
        ]

    def has_deadline(self, code: str, subject: str) -> bool:
        return any(d.code == code and d.subject == subject for d in self.deadlines)

    def is_linked(self, kind: str, value: str) -> bool:
        return value in self.linked.get(kind, ())

    def link(self, kind: str, value: str) -> None:
        values = self.linked.setdefault(kind, [])
        if value not in values:
            values.append(value)
