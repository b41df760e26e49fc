"""Temperature and logistics faults: excursions, silent loggers, late ETAs, customs, courier
exceptions (damage, loss, failed delivery), slots."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.sim import perturb as px
from hub.sim.facts import CourierStatus, Fact
from hub.sim.faults.base import Ctx, Effect, Facts, fault
from hub.sim.timeline import H, M


@fault("FRESH_STABILITY_BREACH", "manufacturing starts 4 h after the fresh-stability window "
       "(equipment failure); the process is shortened, release stays on plan")  # fmt: skip
def _stability(c: Ctx) -> Effect:
    start = c.t.apheresis_end + c.profile.fresh_stability + 4 * H
    return Effect(at=c.t.mfg_start, timeline=replace(c.t, mfg_start=start))


@fault("TEMP_EXCURSION_FRESH", "the inbound logger reads 9.5-10.5 C for the tolerance + 30 min")
def _fresh_excursion(c: Ctx) -> Effect:
    start, end = px.window(c.t.depart + H, c.profile.fresh_transport.excursion_tolerance_min + 30)
    hot = c.profile.fresh_transport.max_c + 2.0
    return Effect(
        at=start, facts=lambda fs: px.readings(fs, "inbound", start, end, lambda v: hot + v - 5.0)
    )


@fault("TEMP_EXCURSION_CRYO", "the dry shipper's logger reads 10 C above the label limit for "
       "the tolerance + 45 min")  # fmt: skip
def _cryo_excursion(c: Ctx) -> Effect:
    start, end = px.window(c.t.out_depart + 2 * H, c.profile.cryo.excursion_tolerance_min + 45)
    warm = c.profile.cryo.max_c + 10.0
    return Effect(
        at=start, facts=lambda fs: px.readings(fs, "outbound", start, end, lambda _: warm)
    )


def _eta_update(c: Ctx, fs: Facts, leg: str, at: datetime, eta: datetime, tag: str) -> Fact:
    base = px.find(fs, f"{leg}.departed")
    assert isinstance(base, CourierStatus)
    return replace(
        base, step=f"{leg}.eta.{tag}", message_id=f"{base.message_id}-ETA{tag}", code="ETA",
        at=at, received=at + 2 * M, eta=eta, reason="flight cancelled; rebooking",
    )  # fmt: skip


@fault("SHIPPER_HOLD_AT_RISK", "the courier's ETA update predicts the dry shipper arrives 6 h "
       "after its usable hold time; 3 h later a re-routing restores the ETA")  # fmt: skip
def _shipper(c: Ctx) -> Effect:
    t = c.t
    late = t.out_depart + c.profile.shipper_limit + 6 * H

    def facts(fs: Facts) -> Facts:
        first = _eta_update(c, fs, "outbound", t.out_depart + 2 * H, late, "1")
        back = _eta_update(c, fs, "outbound", t.out_depart + 5 * H, t.out_delivered, "2")
        return px.after(fs, "outbound.departed", first, back)

    return Effect(at=t.out_depart + 2 * H, facts=facts)


@fault("LOGGER_DATA_GAP", "the dry shipper's logger stops reporting for 3 h in transit")
def _gap(c: Ctx) -> Effect:
    start, end = px.window(c.t.out_depart + 2 * H, 180)
    return Effect(
        at=start, facts=lambda fs: px.readings(fs, "outbound", start, end, lambda _: None)
    )


@fault("ETA_BEYOND_WINDOW", "the courier's ETA update predicts the fresh bag after the slot "
       "start; the delivery is then on time")  # fmt: skip
def _eta(c: Ctx) -> Effect:
    t = c.t
    late = t.slot_start + c.profile.slot_grace + H

    def facts(fs: Facts) -> Facts:
        first = _eta_update(c, fs, "inbound", t.depart + H, late, "1")
        back = _eta_update(c, fs, "inbound", t.depart + 150 * M, t.delivered, "2")
        return px.after(fs, "inbound.departed", first, back)

    return Effect(at=t.depart + H, facts=facts)


def _cross_border(c: Ctx) -> bool:
    return c.p.clinic.outbound.cross_border


@fault("CUSTOMS_HOLD", "Rec 24 code 20 with customs hold at import, cleared (12) 4 h later",
       applies=_cross_border)  # fmt: skip
def _customs(c: Ctx) -> Effect:
    at = c.t.out_depart + 12 * H
    dest = c.p.clinic.outbound.destination

    def facts(fs: Facts) -> Facts:
        base = px.find(fs, "outbound.departed")
        assert isinstance(base, CourierStatus)
        place = (f"{dest.country}-CUSTOMS", f"{dest.country} import customs", dest.country)
        hold = replace(
            base, step="outbound.customs.hold", message_id=base.message_id + "-C1", code="20",
            at=at, received=at + 2 * M, customs_hold=True, eta=None, place=place,
            reason="import permit for human cells under review", zone=dest.zone,
        )  # fmt: skip
        cleared = replace(
            hold, step="outbound.customs.cleared", message_id=base.message_id + "-C2",
            code="12", at=at + 4 * H, received=at + 4 * H + 2 * M, customs_hold=False,
            reason=None,
        )  # fmt: skip
        return px.after(fs, "outbound.departed", hold, cleared)

    return Effect(at=at, facts=facts)


def _report(
    fs: Facts, leg: str, tag: str, code: str, at: datetime, reason: str, **kw: Any
) -> CourierStatus:
    """A courier status of ``leg`` in transit (Rec 24 ``code``), after its departure."""
    base = px.find(fs, f"{leg}.departed")
    assert isinstance(base, CourierStatus)
    return replace(
        base, step=f"{leg}.status.{tag}", message_id=f"{base.message_id}-{tag}", code=code,
        at=at, received=at + 2 * M, eta=None, reason=reason, **kw,
    )  # fmt: skip


@fault("SHIPMENT_DAMAGED", "Rec 24 code 18 (damaged in the course of transport) 2 h after "
       "the dry shipper departs: outer carton crushed, shipper intact; delivered as "
       "planned")  # fmt: skip
def _damaged(c: Ctx) -> Effect:
    at = c.t.out_depart + 2 * H

    def facts(fs: Facts) -> Facts:
        reason = "outer carton crushed at the sort hub; dry shipper intact, repacked"
        return px.after(fs, "outbound.departed", _report(fs, "outbound", "D1", "18", at, reason))

    return Effect(at=at, facts=facts)


@fault("SHIPMENT_LOST", "Rec 24 code 49 (lost) 3 h after the dry shipper departs, found (37) "
       "2 h later and delivered as planned")  # fmt: skip
def _lost(c: Ctx) -> Effect:
    at = c.t.out_depart + 3 * H

    def facts(fs: Facts) -> Facts:
        lost = _report(fs, "outbound", "L1", "49", at, "no scan at the transfer hub; trace opened")
        found = _report(
            fs, "outbound", "L2", "37", at + 2 * H, "located at the transfer hub; forwarded"
        )
        return px.after(fs, "outbound.departed", lost, found)

    return Effect(at=at, facts=facts)


@fault("DELIVERY_NOT_COMPLETED", "Rec 24 code 23 (delivery not completed) at the infusion site "
       "3 h before the planned delivery (receiving pharmacy closed); the re-attempt delivers "
       "as planned")  # fmt: skip
def _not_delivered(c: Ctx) -> Effect:
    at = c.t.out_delivered - 3 * H
    site = c.p.clinic.infusion

    def facts(fs: Facts) -> Facts:
        attempt = _report(
            fs, "outbound", "N1", "23", at, "receiving pharmacy closed; re-attempt booked",
            place=(site.sgln, site.name, site.country), zone=site.zone,
        )  # fmt: skip
        return px.after(fs, "outbound.departed", attempt)

    return Effect(at=at, facts=facts)


@fault("SLOT_MISSED", "the bag is signed for on time but received into the MES 90 min after "
       "the slot start (receiving backlog); manufacturing starts an hour later")  # fmt: skip
def _slot(c: Ctx) -> Effect:
    receipt = c.t.slot_start + c.profile.slot_grace + 90 * M
    late = replace(c.t, receipt=receipt, mfg_start=receipt + H)
    return Effect(at=c.t.slot_start + c.profile.slot_grace, timeline=late)
