"""What the chain and case pages show, from a chain's audit trail (pure).

The trail (``v2v.audit``) holds every record a chain took, events as received included, so one
source gives the chain's state (replayed by :func:`hub.audit.reconstruct.reconstruct`, the same
flow core as the worker, as of any time), the temperature readings of each leg, the custody
handovers, the identity checks, and every case version and command with its note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from hub.audit.reconstruct import AsOf, reconstruct
from hub.audit.records import AuditKind, AuditRecord
from hub.chain.profiles import DEFAULT_PROFILE, ProductProfile
from hub.chain.state import ChainState
from hub.events.models import (
    CustodyDetail,
    Event,
    EventType,
    IdentityCheckDetail,
    TemperatureDetail,
)
from hub.flow import FlowCore

LAST = datetime.max.replace(tzinfo=UTC)
ACTUAL_ONLY = (
    EventType.THERAPY_ORDERED,
    EventType.COLLECTION_COMPLETED,
    EventType.MATERIAL_RECEIVED,
    EventType.CRYOPRESERVED,
    EventType.MANUFACTURING_COMPLETED,
    EventType.RELEASE_DECIDED,
    EventType.PRODUCT_RECEIVED_AT_SITE,
    EventType.LYMPHODEPLETION_STARTED,
    EventType.PRODUCT_THAWED,
)


@dataclass(frozen=True)
class Milestone:
    name: str
    planned: datetime | None
    actual: datetime | None

    @property
    def late_by_s(self) -> float | None:
        if self.planned is None or self.actual is None:
            return None
        return (self.actual - self.planned).total_seconds()


@dataclass(frozen=True)
class Reading:
    at: datetime
    value: float
    low: float | None = None  # an interval report's minimum and maximum
    high: float | None = None


@dataclass
class Leg:
    """One shipment: its readings and the profile's range for its mode."""

    shipment_id: str
    leg: str
    mode: str
    lane: str | None
    departed_at: datetime | None
    delivered_at: datetime | None
    min_c: float | None
    max_c: float
    readings: list[Reading] = field(default_factory=list)

    def outside(self, r: Reading) -> bool:
        high = r.high if r.high is not None else r.value
        low = r.low if r.low is not None else r.value
        return high > self.max_c or (self.min_c is not None and low < self.min_c)

    @property
    def excursions(self) -> list[Reading]:
        return [r for r in self.readings if self.outside(r)]

    def chart(self) -> dict[str, Any]:
        """The uPlot data: x (epoch seconds), readings, readings outside the range (else null),
        the range's bounds."""
        xs = [r.at.timestamp() for r in self.readings]
        return {
            "id": self.shipment_id,
            "title": f"{self.leg} {self.mode} shipment {self.shipment_id}",
            "x": xs,
            "value": [r.value for r in self.readings],
            "outside": [r.value if self.outside(r) else None for r in self.readings],
            "max_c": self.max_c,
            "min_c": self.min_c,
        }


@dataclass(frozen=True)
class Handover:
    handover_id: str
    releasing_party: str | None
    receiving_party: str | None
    lane: str | None
    released_at: datetime | None
    accepted_at: datetime | None
    verified_by: str | None
    identity_scanned: bool | None
    verified: bool


@dataclass(frozen=True)
class IdentityCheck:
    checkpoint: str
    at: datetime
    matched: bool
    verified_by: str | None
    compared: tuple[str, ...]  # which identifiers were compared (never their values)


@dataclass
class ChainView:
    coi: str
    view: AsOf
    state: ChainState | None
    milestones: list[Milestone]
    legs: list[Leg]
    handovers: list[Handover]
    identity_checks: list[IdentityCheck]
    events: list[Event]


def audit_records(raw: Iterable[Mapping[str, Any]], coi: str) -> tuple[list[AuditRecord], int]:
    """The chain's records in ``seq`` order, and how many were not valid records."""
    out, bad = [], 0
    for data in raw:
        if data.get("chain") != coi:
            continue
        try:
            out.append(AuditRecord.model_validate(data))
        except ValidationError:
            bad += 1
    return sorted(out, key=lambda r: r.seq), bad


def latest_at(records: Sequence[AuditRecord]) -> datetime | None:
    return max((r.at for r in records), default=None)


def build_chain_view(
    core: FlowCore, coi: str, records: Sequence[AuditRecord], as_of: datetime
) -> ChainView:
    view = reconstruct(core, coi, records, as_of)
    state = view.chain.state if view.chain is not None else None
    events = []
    for r in view.records:
        if r.kind is AuditKind.EVENT:
            try:
                events.append(Event.model_validate(r.body))
            except ValidationError:
                continue
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    profile = core.profiles.get((state.product_profile if state else None) or DEFAULT_PROFILE)
    profile = profile or core.profiles[DEFAULT_PROFILE]
    return ChainView(
        coi=coi,
        view=view,
        state=state,
        milestones=milestones(state, events) if state is not None else [],
        legs=legs(state, events, profile) if state is not None else [],
        handovers=handovers(state, events),
        identity_checks=identity_checks(events),
        events=events,
    )


def milestones(state: ChainState, events: Sequence[Event]) -> list[Milestone]:
    """Planned against actual: manufacturing start against the slot, outbound departure
    against the planned ship time, infusion against the planned infusion; then the milestones
    without a plan, in the order they happened."""
    plan, seen = state.plan, state.milestones
    outbound = [t for t in state.shipment_tracks.values() if t.leg == "outbound"]
    shipped = min((t.departed_at for t in outbound if t.departed_at), default=None)
    out = [
        Milestone("manufacturing start", plan.slot_start, seen.get("MANUFACTURING_STARTED")),
        Milestone("product shipped", plan.planned_ship_at, shipped),
        Milestone("infusion", plan.planned_infusion_at, seen.get("INFUSION_COMPLETED")),
    ]
    if plan.expires_at is not None:
        out.append(Milestone("product expiry", plan.expires_at, None))
    actual = [
        Milestone(t.value.lower().replace("_", " "), None, seen[t.value])
        for t in ACTUAL_ONLY
        if t.value in seen
    ]
    return out + sorted(actual, key=lambda m: m.actual or LAST)


def _range(profile: ProductProfile, mode: str) -> tuple[float | None, float]:
    if mode == "fresh":
        return profile.fresh_transport.min_c, profile.fresh_transport.max_c
    return None, profile.cryo.max_c


def legs(state: ChainState, events: Sequence[Event], profile: ProductProfile) -> list[Leg]:
    """Each shipment with its readings (by shipment id, or by its logger's id)."""
    by_logger = {t.logger_id: sid for sid, t in state.shipment_tracks.items() if t.logger_id}
    out: dict[str, Leg] = {}
    for sid, t in sorted(state.shipment_tracks.items(), key=lambda kv: (kv[1].leg, kv[0])):
        low, high = _range(profile, t.mode)
        out[sid] = Leg(sid, t.leg, t.mode, t.lane, t.departed_at, t.delivered_at, low, high)
    for e in events:
        if e.event_type is not EventType.TEMPERATURE_READING:
            continue
        detail = e.detail
        if not isinstance(detail, TemperatureDetail):
            continue
        logger = e.identifiers.logger_id or detail.logger_id or ""
        sid = e.identifiers.shipment_id or by_logger.get(logger) or ""
        leg = out.get(sid)
        value = detail.value if detail.value is not None else detail.mean_value
        if leg is None or value is None:
            continue
        at = detail.interval_end or e.occurred_at
        leg.readings.append(Reading(at, value, detail.min_value, detail.max_value))
    for leg in out.values():
        leg.readings.sort(key=lambda r: r.at)
    return list(out.values())


def handovers(state: ChainState | None, events: Sequence[Event]) -> list[Handover]:
    """Who held the material when: each handover's release and acceptance; verified when the
    receiving side names a verifier and scanned the identity, and the chain does not list it
    as unverified."""
    unverified = set(state.readiness.unverified_handovers) if state is not None else set()
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.detail
        if not isinstance(d, CustodyDetail):
            continue
        h = found.setdefault(d.handover_id, {"lane": d.lane})
        h["releasing_party"] = h.get("releasing_party") or d.releasing_party
        h["receiving_party"] = h.get("receiving_party") or d.receiving_party
        if e.event_type is EventType.CUSTODY_RELEASED:
            h["released_at"] = e.occurred_at
        elif e.event_type is EventType.CUSTODY_ACCEPTED:
            h["accepted_at"] = e.occurred_at
            h["verified_by"] = d.verified_by
            h["identity_scanned"] = d.identity_scanned
    out = []
    for hid, h in found.items():
        verified = bool(h.get("verified_by")) and h.get("identity_scanned") is True
        out.append(
            Handover(
                hid,
                h.get("releasing_party"),
                h.get("receiving_party"),
                h.get("lane"),
                h.get("released_at"),
                h.get("accepted_at"),
                h.get("verified_by"),
                h.get("identity_scanned"),
                verified and not any(hid in u for u in unverified),
            )
        )
    return sorted(out, key=lambda h: h.released_at or h.accepted_at or LAST)


def identity_checks(events: Sequence[Event]) -> list[IdentityCheck]:
    out = []
    for e in events:
        d = e.detail
        if isinstance(d, IdentityCheckDetail):
            compared = tuple(sorted(set(d.expected) | set(d.scanned)))
            out.append(
                IdentityCheck(d.checkpoint, e.occurred_at, d.matched, d.verified_by, compared)
            )
    return out


@dataclass(frozen=True)
class CaseHistory:
    versions: list[AuditRecord]  # CASE_VERSION records of the case
    notes: list[AuditRecord]  # CASE_COMMAND and COMMAND_REJECTED records of the case
    evidence: list[Event]


def case_history(
    records: Sequence[AuditRecord], case_id: str, evidence_ids: Iterable[str]
) -> CaseHistory:
    wanted = set(evidence_ids)
    versions, notes, evidence = [], [], []
    for r in records:
        if r.kind is AuditKind.CASE_VERSION and r.ref.startswith(f"{case_id}@"):
            versions.append(r)
        elif r.kind in (AuditKind.CASE_COMMAND, AuditKind.COMMAND_REJECTED):
            if (r.body.get("command") or {}).get("case_id") == case_id:
                notes.append(r)
        elif r.kind is AuditKind.EVENT and r.ref in wanted:
            try:
                evidence.append(Event.model_validate(r.body))
            except ValidationError:
                continue
    return CaseHistory(versions, notes, evidence)
