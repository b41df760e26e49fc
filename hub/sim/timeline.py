"""One patient's key times, derived from the product profile (DOMAIN.md section 5).

A clean timeline respects every window of the profile with room to spare, so that one fault
moves one thing: the slot starts after the bag arrives, manufacturing starts well inside the
fresh-stability window, release evidence is complete days before the planned ship date, the
dry shipper arrives long before its hold time runs out, the infusion is inside the vein-to-vein
target and the thaw window. Faults (:mod:`hub.sim.faults`) replace individual times.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.chain.profiles import ProductProfile
from hub.sim.network import Patient

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)

# QC result times after manufacturing completion (rapid sterility: 7-day method on an
# in-process sample; the compendial 14 days would not fit the vein-to-vein targets).
QC_AFTER_COMPLETION: dict[str, timedelta] = {
    "VIABILITY": 3 * H,
    "CD3_PCT": 3 * H,
    "CAR_PCT": 3 * H + 10 * M,
    "ID_FLOW": 4 * H,
    "ENDOTOXIN": 20 * H,
    "VCN": 2 * D,
    "MYCOPLASMA": 2 * D + 5 * H,
    "POTENCY_IFNG": 3 * D,
    "STERILITY": 5 * D,
}


@dataclass(frozen=True)
class Timeline:
    ordered: datetime
    booked: datetime
    collection_start: datetime
    apheresis_end: datetime  # the procedure ends: the engine's collection end
    collection_end: datetime  # the bag is sealed and labelled
    pickup: datetime
    depart: datetime
    delivered: datetime
    receipt: datetime
    slot_start: datetime
    mfg_start: datetime
    cryo: datetime
    mfg_complete: datetime
    qc: tuple[tuple[str, datetime], ...]
    review: datetime
    certified: datetime
    ship: datetime
    out_pickup: datetime
    out_depart: datetime
    out_delivered: datetime
    site_receipt: datetime
    ld: datetime
    thaw: datetime
    infusion: datetime
    planned_infusion: datetime
    expires: datetime

    def qc_at(self, test: str) -> datetime:
        return dict(self.qc)[test]


def _ceil_hour(at: datetime) -> datetime:
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + H


def plan(patient: Patient, profile: ProductProfile, rng: random.Random) -> Timeline:
    """The clean timeline of ``patient`` under ``profile`` (jitter from ``rng``)."""
    clinic = patient.clinic
    ordered = patient.start
    collection_start = ordered + 3 * D + rng.randrange(0, 4) * 30 * M
    collection_end = collection_start + 4 * H + rng.randrange(0, 6) * 10 * M
    pickup = collection_end + H
    depart = pickup + 30 * M
    delivered = depart + clinic.inbound.transit + rng.randrange(0, 4) * 10 * M
    slot_start = _ceil_hour(delivered + 3 * H)
    mfg_start = slot_start
    cryo = mfg_start + 8 * D
    mfg_complete = cryo + H
    qc = tuple(
        (test, mfg_complete + QC_AFTER_COMPLETION.get(test, 4 * H))
        for test in sorted(profile.qc_tests)
    )
    review = max(at for _, at in qc) + 2 * H
    certified = review + 4 * H
    ship = certified + 3 * D
    out_pickup = ship + 20 * M
    out_depart = ship + 45 * M
    out_delivered = out_depart + clinic.outbound.transit + rng.randrange(0, 4) * 10 * M
    # The product waits at the site longer than the dry shipper could hold it, so a late ETA
    # warns about the shipper before it threatens the infusion date.
    wait = math.ceil((profile.shipper_limit + D) / D)
    infusion = ship + wait * D
    return Timeline(
        ordered=ordered,
        booked=ordered + 20 * H,
        collection_start=collection_start,
        apheresis_end=collection_end - 10 * M,
        collection_end=collection_end,
        pickup=pickup,
        depart=depart,
        delivered=delivered,
        receipt=delivered + 25 * M,
        slot_start=slot_start,
        mfg_start=mfg_start,
        cryo=cryo,
        mfg_complete=mfg_complete,
        qc=qc,
        review=review,
        certified=certified,
        ship=ship,
        out_pickup=out_pickup,
        out_depart=out_depart,
        out_delivered=out_delivered,
        site_receipt=out_delivered + 40 * M,
        ld=infusion - 4 * D,
        thaw=infusion - profile.thaw_window / 2,
        infusion=infusion,
        planned_infusion=infusion,
        expires=cryo + 365 * D,
    )
