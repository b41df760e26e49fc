"""Identifiers and the key times of a clean chain for a product profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.chain.profiles import ProductProfile
from hub.events.identifiers import mod37_2

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CARRIER = "World Courier"


def coi_for(n: int) -> str:
    body = f"V2V{n:012d}"
    return body + mod37_2(body)


def din_core(n: int) -> str:
    return f"A9999{26}{n:06d}"


def din_for(n: int) -> str:
    return f"={din_core(n)}00"


def lane_of(profile: ProductProfile, kind: str) -> str | None:
    return next((name for name in sorted(profile.lanes) if kind in name), None)


@dataclass(frozen=True)
class Timeline:
    """Key times of a clean chain for a profile (all windows respected with room to spare)."""

    ordered: datetime
    slot_booked: datetime
    collection_end: datetime
    inbound_depart: datetime
    inbound_arrive: datetime
    slot_start: datetime
    mfg_start: datetime
    mfg_complete: datetime
    qc_start: datetime
    reviewed: datetime
    certified: datetime
    planned_ship: datetime
    outbound_arrive: datetime
    ld: datetime
    thaw: datetime
    planned_infusion: datetime
    expires: datetime

    @classmethod
    def for_profile(cls, profile: ProductProfile, start: datetime = T0) -> Timeline:
        collection_end = start + timedelta(days=3)
        depart = collection_end + timedelta(hours=1)
        arrive = depart + profile.turnaround(lane_of(profile, "FRESH")) * 0.75
        slot = arrive + timedelta(hours=6)
        complete = slot + timedelta(days=9)
        ship = slot + timedelta(days=13)
        outbound_arrive = ship + profile.turnaround(lane_of(profile, "CRYO")) * 0.75
        infusion = outbound_arrive + timedelta(days=4)
        return cls(
            ordered=start,
            slot_booked=start + timedelta(days=1),
            collection_end=collection_end,
            inbound_depart=depart,
            inbound_arrive=arrive,
            slot_start=slot,
            mfg_start=slot,
            mfg_complete=complete,
            qc_start=complete + timedelta(hours=2),
            reviewed=complete + timedelta(days=1),
            certified=ship - profile.release_ready_margin - timedelta(hours=12),
            planned_ship=ship,
            outbound_arrive=outbound_arrive,
            ld=infusion - timedelta(days=3),
            thaw=infusion - profile.thaw_window / 2,
            planned_infusion=infusion,
            expires=ship + timedelta(days=180),
        )
