"""Engine throughput on one core: ``python -m hub.chain.bench [--chains N] [--profile NAME]``.

Builds N clean vein-to-vein chains in memory (order -> infusion, with logger readings and a
clock tick every 6 h), then times

* the baseline: iterating over the same events and copying each one (``model_copy``), and
* the engine: ``apply`` over every chain's events in order (pure, no Kafka, no I/O),

and prints both rates, so the engine's figure can be compared with the cost of merely touching
each event. Nothing here runs on import.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.chain.engine import apply, new_chain
from hub.chain.profiles import ProductProfile, load_profiles
from hub.events.identifiers import mod37_2
from hub.events.ids import derive_id, event_id
from hub.events.models import (
    ClinicalDetail,
    ClockTickDetail,
    CustodyDetail,
    Detail,
    Event,
    EventType,
    Identifiers,
    IdentityCheckDetail,
    ManufacturingDetail,
    MaterialDetail,
    QcResultDetail,
    QualityDecisionDetail,
    ScheduleDetail,
    ShipmentDetail,
    Source,
    TemperatureDetail,
)

PROFILE_DIR = Path(__file__).with_name("profiles")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def clean_chain(profile: ProductProfile, n: int) -> list[Event]:
    """One clean chain's events in time order (ticks included)."""
    body = f"B{n:014d}"
    coi, din = body + mod37_2(body), f"=A9999{26}{n:06d}00"
    t0 = START + timedelta(minutes=7 * n)
    out: list[Event] = []

    def emit(kind: EventType, at: datetime, detail: Detail | None, **ids: str) -> None:
        mid = f"{coi}-{len(out)}"
        src = Source(partner="bench", system="bench", message_id=mid, received_at=at + H / 60)
        out.append(
            Event(
                event_id=event_id("bench", mid, 0),
                event_type=kind,
                occurred_at=at,
                recorded_at=at + H / 60,
                source=src,
                coi_id=coi,
                identifiers=Identifiers(**ids),
                detail=detail,
            )
        )

    collected = t0 + 72 * H
    arrive = collected + 7 * H
    start = arrive + 6 * H
    ship = start + 13 * 24 * H
    at_site = ship + 12 * H
    infusion = at_site + 4 * 24 * H
    plan = ScheduleDetail(
        product_profile=profile.name,
        slot_id=f"S{n}",
        slot_start=start,
        planned_ship_at=ship,
        planned_infusion_at=infusion,
    )
    emit(EventType.THERAPY_ORDERED, t0, plan, order_id=f"O{n}")
    emit(EventType.SLOT_BOOKED, t0 + 24 * H, plan, order_id=f"O{n}")
    emit(
        EventType.COLLECTION_COMPLETED,
        collected,
        MaterialDetail(material_type="apheresis", collection_end=collected),
        din=din,
    )
    for leg, depart, until, value in (
        ("IN", collected + H, arrive, 5.0),
        ("OUT", ship, at_site, profile.cryo.max_c - 40),
    ):
        sid = f"SHP-{leg}-{n}"
        hand = CustodyDetail(handover_id=sid, releasing_party="A", receiving_party="B")
        emit(EventType.CUSTODY_RELEASED, depart, hand, shipment_id=sid, din=din)
        ship_detail = ShipmentDetail(status="DEPARTED", eta=until)
        emit(EventType.SHIPMENT_DEPARTED, depart, ship_detail, shipment_id=sid, din=din)
        at = depart
        while at <= until:
            reading = TemperatureDetail(logger_id=f"L{leg}{n}", value=value)
            emit(EventType.TEMPERATURE_READING, at, reading, shipment_id=sid)
            at += timedelta(minutes=profile.logger.interval_min)
        emit(
            EventType.SHIPMENT_DELIVERED, until, ShipmentDetail(status="DELIVERED"), shipment_id=sid
        )
        accept = hand.model_copy(update={"verified_by": "op", "identity_scanned": True})
        emit(EventType.CUSTODY_ACCEPTED, until + H / 6, accept, shipment_id=sid)
        scan = IdentityCheckDetail(checkpoint=f"{leg}-receipt", matched=True)
        emit(EventType.IDENTITY_VERIFIED, until + H / 4, scan)
        if leg == "IN":
            material = MaterialDetail(material_type="apheresis")
            emit(EventType.MATERIAL_RECEIVED, until + H / 3, material, order_id=f"O{n}", din=din)
            _manufacture(emit, profile, start, ship, f"LOT{n}")
    site = ClinicalDetail(procedure="receipt")
    emit(EventType.PRODUCT_RECEIVED_AT_SITE, at_site + H / 3, site)
    emit(EventType.LYMPHODEPLETION_STARTED, infusion - 72 * H, ClinicalDetail(procedure="ld"))
    emit(EventType.PRODUCT_THAWED, infusion - H / 6, ClinicalDetail(procedure="thaw"))
    emit(EventType.INFUSION_COMPLETED, infusion, ClinicalDetail(procedure="infusion"))
    at = t0
    while at <= infusion + 24 * H:
        tick = ClockTickDetail(clock="simulated")
        src = Source(partner="hub", system="clock", message_id=at.isoformat(), received_at=at)
        out.append(
            Event(
                event_id=derive_id("tick", at.isoformat()),
                event_type=EventType.CLOCK_TICK,
                occurred_at=at,
                recorded_at=at,
                source=src,
                detail=tick,
            )
        )
        at += 6 * H
    return sorted(out, key=lambda e: e.occurred_at)


def _manufacture(
    emit: Callable[..., None], profile: ProductProfile, start: datetime, ship: datetime, lot: str
) -> None:
    emit(EventType.MANUFACTURING_STARTED, start, ManufacturingDetail(step="start"), batch_id=lot)
    done = start + 9 * 24 * H
    emit(EventType.CRYOPRESERVED, done - H, MaterialDetail(material_type="dp"), batch_id=lot)
    emit(EventType.MANUFACTURING_COMPLETED, done, ManufacturingDetail(step="end"), batch_id=lot)
    for i, (test, spec) in enumerate(sorted(profile.qc_tests.items())):
        if spec.low is not None or spec.high is not None:
            value = spec.low if spec.low is not None else spec.high
            qc = QcResultDetail(test_code=test, result_value=value, status="FINAL")
        else:
            qc = QcResultDetail(test_code=test, result_text=spec.accepted[0], status="FINAL")
        emit(EventType.QC_RESULT_RECORDED, done + (i + 1) * H, qc, batch_id=lot)
    review = QualityDecisionDetail(decision="REVIEWED")
    emit(EventType.BATCH_RECORD_REVIEWED, done + 24 * H, review, batch_id=lot)
    release = QualityDecisionDetail(decision="CERTIFIED")
    certify_at = ship - profile.release_ready_margin - 12 * H
    emit(EventType.RELEASE_DECIDED, certify_at, release, batch_id=lot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chains", type=int, default=2000)
    parser.add_argument("--profile", default="cart-fresh-48h")
    args = parser.parse_args(argv)
    profile = load_profiles(PROFILE_DIR)[args.profile]
    chains = [clean_chain(profile, n) for n in range(args.chains)]
    total = sum(len(c) for c in chains)
    business = sum(1 for c in chains for e in c if e.event_type is not EventType.CLOCK_TICK)
    gc.collect()

    began = time.perf_counter()
    for events in chains:
        for event in events:
            event.model_copy()
    baseline = time.perf_counter() - began

    findings = 0
    began = time.perf_counter()
    for events in chains:
        state = new_chain(events[0].coi_id or events[1].coi_id or "")
        for event in events:
            state, found = apply(state, event, profile)
            findings += len(found)
    engine = time.perf_counter() - began

    print(f"profile {profile.name}: {args.chains} chains, {total} events ({business} business)")
    print(f"baseline iterate+copy: {total / baseline:12,.0f} events/s  ({baseline:.2f} s)")
    print(f"engine apply:          {total / engine:12,.0f} events/s  ({engine:.2f} s)")
    print(f"engine, business only: {business / engine:12,.0f} business events/s")
    print(f"findings: {findings} (a clean chain raises none)")
    return 0 if findings == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
