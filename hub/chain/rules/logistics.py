"""Shipment rules fed by courier status: CUSTOMS_HOLD, ETA_BEYOND_WINDOW, SHIPPER_HOLD_AT_RISK.

A shipment is *outbound* (drug product towards the site) when it departs at or after the
manufacturer received the starting material, else *inbound*; an outbound shipment, and an
inbound one when the profile's starting material is cryopreserved, travels in a dry shipper
(mode ``cryo``). ETA_BEYOND_WINDOW and SHIPPER_HOLD_AT_RISK are predictive: they fire on the
ETA, before the window is actually missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.chain.catalogue import Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline, Leg, Mode, ShipmentTrack
from hub.chain.vocab import CUSTOMS_HOLD as _HOLD_STATUSES
from hub.chain.vocab import CUSTOMS_REFUSED_CODE, norm
from hub.events.models import Event, EventType, ShipmentDetail

CUSTOMS_HOLD = entry(
    "CUSTOMS_HOLD",
    "Shipment held or refused by customs",
    Severity.HIGH,
    "logistics",
    evidence=("courier status event (Rec 24 code 17 or hold status)",),
    playbook=(
        "Obtain the customs reference and the documents requested from the broker",
        "Check the remaining stability / dry-shipper hold time against the expected release",
        "Inform the receiving site and manufacturing planning of the new ETA",
    ),
    timing=Timing.AT_ONCE,
)
ETA_BEYOND_WINDOW = entry(
    "ETA_BEYOND_WINDOW",
    "Shipment predicted to arrive too late",
    Severity.HIGH,
    "logistics + site",
    evidence=("courier ETA", "the window it misses (slot, stability, infusion)"),
    playbook=(
        "Ask the carrier for an expedited option or an alternative routing",
        "Inform manufacturing planning / the treatment site; reschedule slot or infusion",
        "For fresh material, confirm the stability limit with QA before it is reached",
    ),
    timing=Timing.AFTER_LATENESS,
    ends_with_chain=True,
)
SHIPPER_HOLD_AT_RISK = entry(
    "SHIPPER_HOLD_AT_RISK",
    "Dry shipper may run out of hold time",
    Severity.HIGH,
    "logistics",
    evidence=("shipper record (departure, validated hold, safety factor)", "ETA"),
    playbook=(
        "Arrange an LN2 re-charge or a replacement shipper on the route",
        "Check the shipper's logger temperature trend",
        "Escalate delivery priority with the carrier",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.SHIPMENT_DELIVERED,),
)


def leg_at(state: ChainState, at: datetime) -> Leg:
    received = state.milestones.get(EventType.MATERIAL_RECEIVED.value)
    return "outbound" if received is not None and received <= at else "inbound"


def mode_of(profile: ProductProfile, leg: Leg) -> Mode:
    if leg == "outbound" or profile.starting_material == "cryopreserved":
        return "cryo"
    return "fresh"


@rule(
    EventType.SHIPMENT_STATUS,
    EventType.SHIPMENT_DEPARTED,
    EventType.SHIPMENT_DELIVERED,
    EventType.SHIPMENT_ETA_UPDATED,
)
def track_shipment(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    sid = event.identifiers.shipment_id
    if not isinstance(detail, ShipmentDetail) or sid is None:
        return ()
    state.shipments[sid] = detail.status
    track = state.shipment_tracks.get(sid)
    if track is None:
        leg = leg_at(state, event.occurred_at)
        track = ShipmentTrack(
            shipment_id=sid,
            leg=leg,
            mode=mode_of(profile, leg),
            lane=detail.lane,
            logger_id=event.identifiers.logger_id,
            event_id=event.event_id,
        )
    changes: dict[str, Any] = {}
    if event.event_type is EventType.SHIPMENT_DEPARTED and track.departed_at is None:
        changes.update(departed_at=event.occurred_at, event_id=event.event_id)
        changes["lane"] = detail.lane or track.lane
        changes["logger_id"] = event.identifiers.logger_id or track.logger_id
    if detail.eta is not None:
        changes["eta"] = detail.eta
    if event.event_type is EventType.SHIPMENT_DELIVERED and track.delivered_at is None:
        changes["delivered_at"] = event.occurred_at
    if changes:
        track = track.model_copy(update=changes)
    state.shipment_tracks[sid] = track
    if event.event_type is EventType.SHIPMENT_DEPARTED and track.mode == "cryo":
        due = event.occurred_at + profile.shipper_limit
        state.set_deadline(
            SHIPPER_HOLD_AT_RISK.code,
            sid,
            due,
            [event.event_id],
            f"dry shipper {sid} departed {event.occurred_at.isoformat()} and is not delivered "
            f"by {due.isoformat()} (hold {profile.dry_shipper.validated_hold_h:g} h x "
            f"{profile.dry_shipper.safety_factor:g})",
        )
    if track.delivered_at is not None:
        state.clear_deadline(SHIPPER_HOLD_AT_RISK.code, sid)
        return _customs(state, event, detail, sid)
    return [
        *_customs(state, event, detail, sid),
        *_eta_beyond_window(state, event, profile, track),
        *_shipper_prediction(state, event, profile, track),
    ]


def _customs(state: ChainState, event: Event, detail: ShipmentDetail, sid: str) -> list[Finding]:
    refused = detail.status_code == CUSTOMS_REFUSED_CODE or norm(detail.status) == (
        "CUSTOMS_REFUSED"
    )
    if norm(detail.status) not in _HOLD_STATUSES and not refused:
        return []
    verb = "refused clearance" if refused else "held"
    return [
        CUSTOMS_HOLD.finding(
            state,
            sid,
            event.occurred_at,
            f"Shipment {sid} {verb} by customs"
            + (f": {detail.reason}" if detail.reason else "")
            + (f" (Rec 24 code {detail.status_code})" if detail.status_code else ""),
            [event.event_id],
        )
    ]


def _windows(
    state: ChainState, profile: ProductProfile, track: ShipmentTrack
) -> list[tuple[str, datetime]]:
    plan = state.plan
    reached = state.milestones
    windows: list[tuple[str, datetime]] = []
    if track.leg == "inbound":
        if plan.slot_start and EventType.MATERIAL_RECEIVED.value not in reached:
            windows.append(("manufacturing slot start", plan.slot_start + profile.slot_grace))
        if (
            track.mode == "fresh"
            and plan.collection_end
            and EventType.MANUFACTURING_STARTED.value not in reached
        ):
            windows.append(("fresh stability end", plan.collection_end + profile.fresh_stability))
    elif plan.infused_at is None:
        if plan.planned_infusion_at:
            windows.append(("planned infusion", plan.planned_infusion_at))
        if plan.ld_started_at:
            windows.append(
                ("lymphodepletion window end", plan.ld_started_at + profile.ld_max_before_infusion)
            )
    return windows


def _eta_beyond_window(
    state: ChainState, event: Event, profile: ProductProfile, track: ShipmentTrack
) -> list[Finding]:
    if track.eta is None:
        return []
    arrival = max(track.eta, event.occurred_at) + profile.eta_margin
    missed = [(name, end) for name, end in _windows(state, profile, track) if arrival > end]
    if not missed:
        return []
    return [
        ETA_BEYOND_WINDOW.finding(
            state,
            track.shipment_id,
            event.occurred_at,
            f"{track.leg} shipment {track.shipment_id}: ETA {track.eta.isoformat()}"
            + (f" (+{profile.eta_margin_min:g} min margin)" if profile.eta_margin_min else "")
            + " is after the "
            + ", ".join(f"{name} {end.isoformat()}" for name, end in missed),
            [track.event_id, event.event_id],
        )
    ]


def _shipper_prediction(
    state: ChainState, event: Event, profile: ProductProfile, track: ShipmentTrack
) -> list[Finding]:
    """Elapsed time in the shipper + remaining time to ETA against hold x safety factor."""
    if track.mode != "cryo" or track.departed_at is None or track.eta is None:
        return []
    in_shipper = max(track.eta, event.occurred_at) - track.departed_at
    if in_shipper <= profile.shipper_limit:
        return []
    hours = in_shipper.total_seconds() / 3600
    limit = profile.shipper_limit.total_seconds() / 3600
    return [
        SHIPPER_HOLD_AT_RISK.finding(
            state,
            track.shipment_id,
            event.occurred_at,
            f"dry shipper {track.shipment_id}: departed {track.departed_at.isoformat()}, ETA "
            f"{track.eta.isoformat()} = {hours:.1f} h in the shipper > {limit:.1f} h usable "
            f"(hold {profile.dry_shipper.validated_hold_h:g} h x "
            f"{profile.dry_shipper.safety_factor:g})",
            [track.event_id, event.event_id],
        )
    ]


@deadline(SHIPPER_HOLD_AT_RISK.code)
def shipper_not_delivered(
    state: ChainState, due: Deadline, profile: ProductProfile
) -> Iterable[Finding]:
    track = state.shipment_tracks.get(due.subject)
    if track is None or track.delivered_at is not None:
        return ()
    return (
        SHIPPER_HOLD_AT_RISK.finding(
            state, due.subject, due.due_at, due.summary, due.evidence_event_ids
        ),
    )
