"""Clinic and data-quality faults, and the malformed messages the dead-letter topic must get."""

from __future__ import annotations

import uuid
from dataclasses import replace

from hub.sim import perturb as px
from hub.sim.facts import CourierStatus, EpcisDocument, EpcisEvent, FhirOrder, LimsExport
from hub.sim.faults.base import Ctx, Effect, Facts, fault
from hub.sim.timeline import D, H, M


@fault("LD_BEFORE_AVAILABILITY", "lymphodepletion starts 12 h before the product is released "
       "(or, where the profile requires it, received at the site)")  # fmt: skip
def _ld(c: Ctx) -> Effect:
    needs_site = c.profile.lymphodepletion.requires == "received_at_site"
    available = c.t.site_receipt if needs_site else c.t.certified
    return Effect(at=available - 12 * H, timeline=replace(c.t, ld=available - 12 * H))


@fault("THAW_WINDOW_EXCEEDED", "the infusion ends 40 min after the thaw window closed")
def _thaw(c: Ctx) -> Effect:
    late = c.t.thaw + c.profile.thaw_window + 40 * M
    return Effect(at=c.t.thaw + c.profile.thaw_window, timeline=replace(c.t, infusion=late))


@fault("V2V_OVER_TARGET", "the infusion is postponed (patient not fit) to 2 days past the "
       "vein-to-vein target; lymphodepletion and thaw move with it")  # fmt: skip
def _v2v(c: Ctx) -> Effect:
    target = c.t.apheresis_end + c.profile.v2v_target
    delta = max(target + 2 * D - c.t.infusion, D)
    t = replace(c.t, ld=c.t.ld + delta, thaw=c.t.thaw + delta, infusion=c.t.infusion + delta)
    return Effect(at=target, timeline=t)


@fault("EXPIRY_APPROACHING", "the MES labels the product with a short expiry: half the "
       "profile's expiry margin after the planned infusion")  # fmt: skip
def _expiry(c: Ctx) -> Effect:
    expires = c.t.infusion + c.profile.expiry_margin / 2
    return Effect(at=expires - c.profile.expiry_margin, timeline=replace(c.t, expires=expires))


@fault("PATIENT_STATUS_CHANGE", "the clinic revokes the therapy order 12 h after placing it "
       "(patient found ineligible before apheresis); nothing else happens")  # fmt: skip
def _revoked(c: Ctx) -> Effect:
    at = c.t.ordered + 12 * H

    def facts(fs: Facts) -> Facts:
        order = px.find(fs, "order")
        assert isinstance(order, FhirOrder)
        revoked = replace(
            order, step="order.revoked", version=2, status="revoked", last_updated=at,
            received=at + 10 * M,
        )  # fmt: skip
        return [order, revoked]

    return Effect(at=at, facts=facts)


@fault("DUPLICATE_CONFLICT", "the courier re-sends the departure webhook under a new message "
       "id with another location")  # fmt: skip
def _duplicate(c: Ctx) -> Effect:
    def facts(fs: Facts) -> Facts:
        first = px.find(fs, "inbound.departed")
        assert isinstance(first, CourierStatus)
        again = replace(
            first, step="inbound.departed.again", message_id=first.message_id + "-R",
            received=first.received + 20 * M,
            place=(f"{first.carrier[:3].upper()}-HUB", f"{first.carrier} hub", "US"),
        )  # fmt: skip
        return px.after(fs, "inbound.departed", again)

    return Effect(at=c.t.depart, facts=facts)


@fault("LATE_EVENT", "the clinic documents the lymphodepletion start 10 h late")
def _late(c: Ctx) -> Effect:
    return Effect(
        at=c.t.ld, facts=lambda fs: px.edit(fs, "lymphodepletion", received=c.t.ld + 10 * H)
    )


@fault("RECORD_CORRECTED", "the site's EPCIS feed declares its storing event wrong "
       "(errorDeclaration, incorrect_data) and sends the corrective event")  # fmt: skip
def _corrected(c: Ctx) -> Effect:
    at = c.t.site_receipt + 3 * H

    def facts(fs: Facts) -> Facts:
        doc = px.find(fs, "site.receipt")
        assert isinstance(doc, EpcisDocument)
        stored = doc.events[-1]
        name = f"v2v-sim/{c.net.seed}/{c.p.n}/corrective"
        fixed = replace(
            stored, event_id=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
            read_point=stored.read_point[:-1] + "9", readings=(), device_id=None,
        )  # fmt: skip
        declared: EpcisEvent = replace(
            stored, declared=at, declared_reason="incorrect_data", corrective=(fixed.event_id,)
        )
        correction = replace(
            doc, step="site.correction", doc_id=doc.doc_id + "-c", created=at + 5 * M,
            received=at + 8 * M, events=(declared, fixed),
        )  # fmt: skip
        return px.after(fs, "site.receipt", correction)

    return Effect(at=at, facts=facts)


@fault("MALFORMED_WEBHOOK", "a departure webhook cut off in transit (not JSON), retried "
       "intact a minute later", codes=(), dead_letters=("courier:NOT_JSON",))  # fmt: skip
def _truncated(c: Ctx) -> Effect:
    def facts(fs: Facts) -> Facts:
        good = px.find(fs, "inbound.departed")
        assert isinstance(good, CourierStatus)
        cut = replace(good, step="inbound.departed.cut", truncated=True, received=good.received - M)
        return px.after(fs, "inbound.departed", cut)

    return Effect(at=c.t.depart, facts=facts)


@fault("MALFORMED_EXPORT", "a LIMS CSV export without its result_time column, re-exported "
       "complete 10 min later", codes=(), dead_letters=("lims:MISSING_COLUMN",))  # fmt: skip
def _broken_export(c: Ctx) -> Effect:
    def facts(fs: Facts) -> Facts:
        good = next(f for f in fs if isinstance(f, LimsExport))
        broken = replace(
            good, step=good.step + ".broken", fmt="csv", drop_column="result_time",
            received=good.received - 10 * M,
        )  # fmt: skip
        return px.after(fs, good.step, broken)

    first = c.t.qc[0][1]
    return Effect(at=first, facts=facts)
