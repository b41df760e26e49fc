"""Builders of realistic vein-to-vein event streams (canonical events, deterministic ids).

A :class:`Story` is one chain: its identifiers, a :class:`Timeline` derived from the product
profile (every window respected), and one method per business step. ``phase_*`` methods emit
a whole clean phase; scenarios emit the phases they need and then the step that goes wrong.
:meth:`Story.stream` merges the events with hourly CLOCK_TICK events, as the runtime would.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from datetime import datetime, timedelta

from hub.chain.profiles import ProductProfile
from hub.events.identifiers import mod37_2
from hub.events.ids import event_id
from hub.events.models import (
    Actor,
    ClinicalDetail,
    CorrectionDetail,
    CustodyDetail,
    Detail,
    DeviationDetail,
    Event,
    EventType,
    Identifiers,
    IdentityCheckDetail,
    LinkDetail,
    Location,
    ManufacturingDetail,
    MaterialDetail,
    PatientStatusDetail,
    QcResultDetail,
    QualityDecisionDetail,
    ScheduleDetail,
    ShipmentDetail,
    Source,
    TemperatureDetail,
)
from tests.scenarios.harness import PROFILES, recorded, ticks
from tests.scenarios.timeline import CARRIER, Timeline, coi_for, din_core, din_for, lane_of


class Story:
    """One chain's event stream under construction."""

    def __init__(self, profile: ProductProfile | str = "default", n: int = 1) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.n = n
        self.coi = coi_for(n)
        self.din = din_for(n)
        self.order_id = f"ORD-{n:06d}"
        self.batch_id = f"B{n:07d}"
        self.ship_in, self.ship_out = f"SHP-IN-{n}", f"SHP-OUT-{n}"
        self.logger_in, self.logger_out = f"LOG-IN-{n}", f"LOG-OUT-{n}"
        self.lane_in, self.lane_out = lane_of(self.profile, "FRESH"), lane_of(self.profile, "CRYO")
        lanes = self.profile.lanes
        self.aph = lanes[self.lane_in].origin if self.lane_in else "Apheresis Centre"
        self.cdmo = lanes[self.lane_in].destination if self.lane_in else "CDMO"
        self.site = lanes[self.lane_out].destination if self.lane_out else "Treatment Centre"
        self.t = Timeline.for_profile(self.profile)
        self.events: list[Event] = []
        self._seq = 0

    # --- the primitive -------------------------------------------------------------------

    def emit(
        self,
        event_type: EventType,
        at: datetime,
        detail: Detail | None = None,
        *,
        partner: str = "erp",
        org: str | None = None,
        recorded_at: datetime | None = None,
        message_id: str | None = None,
        other: dict[str, str] | None = None,
        **ids: str | None,
    ) -> Event:
        self._seq += 1
        message_id = message_id or f"{self.coi}-{self._seq:05d}"
        event = Event.model_validate(
            {
                "event_id": event_id(partner, message_id, 0),
                "event_type": event_type,
                "occurred_at": at,
                "recorded_at": recorded_at or at + timedelta(minutes=1),
                "source": Source(
                    partner=partner,
                    system=f"{partner}-system",
                    message_id=message_id,
                    received_at=recorded_at or at + timedelta(minutes=1),
                ),
                "coi_id": self.coi,
                "patient_ref": f"PSN-{self.n:06d}",
                "identifiers": Identifiers(**ids, other=other or {}),
                "actor": Actor(id=f"{partner}-user", role=partner, organisation=org),
                "location": Location(id=org) if org else None,
                "detail": detail,
            }
        )
        self.events.append(event)
        return event

    # --- steps ------------------------------------------------------------------------------

    def order(self, at: datetime | None = None, **plan: datetime | None) -> Event:
        detail = ScheduleDetail(
            product_profile=self.profile.name,
            planned_infusion_at=plan.get("planned_infusion_at", self.t.planned_infusion),
            treatment_site=self.site,
        )
        return self.emit(
            EventType.THERAPY_ORDERED, at or self.t.ordered, detail, partner="clinic",
            org=self.site, order_id=self.order_id,
        )  # fmt: skip

    def book_slot(
        self,
        at: datetime | None = None,
        slot_start: datetime | None = None,
        planned_ship_at: datetime | None = None,
        event_type: EventType = EventType.SLOT_BOOKED,
        slot_id: str | None = None,
    ) -> Event:
        detail = ScheduleDetail(
            product_profile=self.profile.name,
            slot_id=slot_id or f"SLOT-{self.n}",
            slot_start=slot_start or self.t.slot_start,
            planned_ship_at=planned_ship_at or self.t.planned_ship,
            planned_infusion_at=self.t.planned_infusion,
            manufacturing_site=self.cdmo,
        )
        return self.emit(
            event_type, at or self.t.slot_booked, detail, org=self.cdmo, order_id=self.order_id
        )

    def collect(self, at: datetime | None = None, din: str | None = None, **other: str) -> Event:
        at = at or self.t.collection_end
        detail = MaterialDetail(
            material_type="apheresis", quantity=250, unit="mL", collection_end=at
        )
        check = {"din_check": mod37_2(din_core(self.n))} if din is None else {}
        return self.emit(
            EventType.COLLECTION_COMPLETED, at, detail, partner="clinic", org=self.aph,
            din=din or self.din, order_id=self.order_id, other={**check, **other},
        )  # fmt: skip

    def release(self, hid: str, at: datetime, giver: str, taker: str, lane: str | None) -> Event:
        detail = CustodyDetail(
            handover_id=hid, releasing_party=giver, receiving_party=taker, lane=lane,
            verified_by=f"{giver} operator", identity_scanned=True,
        )  # fmt: skip
        return self.emit(
            EventType.CUSTODY_RELEASED, at, detail, partner="courier", org=CARRIER,
            shipment_id=hid, din=self.din,
        )  # fmt: skip

    def accept(
        self,
        hid: str,
        at: datetime,
        giver: str,
        taker: str,
        verified_by: str | None = "receiving officer",
        identity_scanned: bool | None = True,
    ) -> Event:
        detail = CustodyDetail(
            handover_id=hid, releasing_party=giver, receiving_party=taker,
            verified_by=verified_by, identity_scanned=identity_scanned,
        )  # fmt: skip
        return self.emit(
            EventType.CUSTODY_ACCEPTED, at, detail, partner="courier", org=taker,
            shipment_id=hid, din=self.din,
        )  # fmt: skip

    def shipment(
        self,
        event_type: EventType,
        sid: str,
        at: datetime,
        status: str,
        eta: datetime | None = None,
        lane: str | None = None,
        code: str | None = None,
        logger_id: str | None = None,
    ) -> Event:
        detail = ShipmentDetail(
            status=status, status_code=code, carrier=CARRIER, lane=lane, eta=eta
        )
        return self.emit(
            event_type, at, detail, partner="courier", org=CARRIER, shipment_id=sid,
            din=self.din, logger_id=logger_id,
        )  # fmt: skip

    def readings(
        self,
        sid: str,
        logger: str,
        start: datetime,
        end: datetime,
        value: float,
        every: timedelta | None = None,
    ) -> list[Event]:
        every = every or timedelta(minutes=self.profile.logger.interval_min)
        out, at = [], start
        while at <= end:
            out.append(self.reading(sid, logger, at, value))
            at += every
        return out

    def reading(self, sid: str | None, logger: str, at: datetime, value: float) -> Event:
        detail = TemperatureDetail(logger_id=logger, value=value)
        return self.emit(
            EventType.TEMPERATURE_READING, at, detail, partner="logger", shipment_id=sid,
            logger_id=logger,
        )  # fmt: skip

    def interval_report(
        self, sid: str, logger: str, start: datetime, end: datetime, low: float, high: float
    ) -> Event:
        detail = TemperatureDetail(
            logger_id=logger, min_value=low, max_value=high, mean_value=(low + high) / 2,
            interval_start=start, interval_end=end,
        )  # fmt: skip
        return self.emit(
            EventType.TEMPERATURE_READING, end, detail, partner="logger", shipment_id=sid,
            logger_id=logger,
        )  # fmt: skip

    def identity(
        self,
        checkpoint: str,
        at: datetime,
        expected: dict[str, str] | None = None,
        scanned: dict[str, str] | None = None,
        matched: bool = True,
    ) -> Event:
        expected = expected or {"coi": self.coi, "din": self.din}
        detail = IdentityCheckDetail(
            checkpoint=checkpoint, expected=expected, scanned=scanned or dict(expected),
            matched=matched, verified_by="second person",
        )  # fmt: skip
        return self.emit(EventType.IDENTITY_VERIFIED, at, detail, partner="mes")

    def material_received(self, at: datetime, din: str | None = None) -> Event:
        detail = MaterialDetail(material_type="apheresis", container_id=f"BAG-{self.n}")
        return self.emit(
            EventType.MATERIAL_RECEIVED, at, detail, partner="mes", org=self.cdmo,
            din=din or self.din, order_id=self.order_id,
        )  # fmt: skip

    def mfg(self, event_type: EventType, at: datetime, step: str | None = None) -> Event:
        if event_type is EventType.CRYOPRESERVED:
            detail: Detail = MaterialDetail(material_type="drug product", expires_at=self.t.expires)
        else:
            detail = ManufacturingDetail(step=step, status="COMPLETE")
        return self.emit(event_type, at, detail, partner="mes", batch_id=self.batch_id)

    def qc(
        self,
        test: str,
        at: datetime,
        value: float | None = None,
        text: str | None = None,
        status: str = "FINAL",
    ) -> Event:
        detail = QcResultDetail(test_code=test, result_value=value, result_text=text, status=status)
        return self.emit(
            EventType.QC_RESULT_RECORDED, at, detail, partner="lims", batch_id=self.batch_id,
            sample_id=f"S-{self.n}-{test}",
        )  # fmt: skip

    def qc_in_spec(self, test: str, at: datetime) -> Event:
        spec = self.profile.qc_tests[test]
        if spec.low is not None and spec.high is not None:
            return self.qc(test, at, value=(spec.low + spec.high) / 2)
        if spec.low is not None:
            return self.qc(test, at, value=spec.low * 1.1 + 1)
        if spec.high is not None:
            return self.qc(test, at, value=spec.high / 2)
        return self.qc(test, at, text=spec.accepted[0])

    def deviation(self, event_type: EventType, dev_id: str, at: datetime) -> Event:
        status = "CLOSED" if event_type is EventType.DEVIATION_CLOSED else "OPEN"
        detail = DeviationDetail(deviation_id=dev_id, classification="minor", status=status)
        return self.emit(event_type, at, detail, partner="qms", batch_id=self.batch_id)

    def decision(self, event_type: EventType, at: datetime, decision: str) -> Event:
        detail = QualityDecisionDetail(decision=decision, reference=f"QP-{self.n}")
        return self.emit(event_type, at, detail, partner="qms", batch_id=self.batch_id)

    def clinic(
        self,
        event_type: EventType,
        at: datetime,
        procedure: str,
        expires_at: datetime | None = None,
        batch_id: str | None = None,
    ) -> Event:
        detail = ClinicalDetail(procedure=procedure, expires_at=expires_at)
        return self.emit(
            event_type, at, detail, partner="clinic", org=self.site,
            batch_id=batch_id or self.batch_id,
        )  # fmt: skip

    def patient_status(self, at: datetime, status: str) -> Event:
        detail = PatientStatusDetail(status=status, reason="clinical decision")
        return self.emit(EventType.PATIENT_STATUS_CHANGED, at, detail, partner="clinic")

    def correction(self, at: datetime, corrected: list[str], reason: str) -> Event:
        detail = CorrectionDetail(corrected_event_ids=corrected, declared_at=at, reason=reason)
        return self.emit(EventType.RECORD_CORRECTED, at, detail, partner="mes")

    def link(self, at: datetime, kind: str, value: str) -> Event:
        detail = LinkDetail(id_kind=kind, id_value=value)
        return self.emit(EventType.IDENTIFIER_LINKED, at, detail, partner="hub")

    # --- clean phases ----------------------------------------------------------------------

    def phase_order(self) -> None:
        self.order()
        self.book_slot()

    def inbound_departed(self) -> None:
        """Collected, handed to the courier and departed with its logger on the inbound lane."""
        t = self.t
        self.collect()
        self.release(self.ship_in, t.inbound_depart, self.aph, self.cdmo, self.lane_in)
        self.shipment(
            EventType.SHIPMENT_DEPARTED, self.ship_in, t.inbound_depart, "DEPARTED",
            eta=t.inbound_arrive, lane=self.lane_in, logger_id=self.logger_in,
        )  # fmt: skip

    def phase_inbound(self, readings: bool = True) -> None:
        t, p = self.t, self.profile
        self.inbound_departed()
        if readings:
            mid = (p.fresh_transport.min_c + p.fresh_transport.max_c) / 2
            self.readings(self.ship_in, self.logger_in, t.inbound_depart, t.inbound_arrive, mid)
        arrive = t.inbound_arrive
        self.shipment(EventType.SHIPMENT_DELIVERED, self.ship_in, arrive, "DELIVERED")
        self.accept(self.ship_in, arrive + timedelta(minutes=5), self.aph, self.cdmo)
        self.identity("manufacturing_receipt", arrive + timedelta(minutes=10))
        self.material_received(arrive + timedelta(minutes=15))

    def phase_manufacturing(self, qc: bool = True, review: bool = True) -> None:
        t = self.t
        self.mfg(EventType.MANUFACTURING_STARTED, t.mfg_start, "activation")
        self.deviation(EventType.DEVIATION_OPENED, f"DEV-{self.n}", t.mfg_start + timedelta(2))
        self.mfg(EventType.MANUFACTURING_STEP_COMPLETED, t.mfg_start + timedelta(3), "transduction")
        self.mfg(EventType.MANUFACTURING_STEP_COMPLETED, t.mfg_start + timedelta(7), "expansion")
        self.deviation(EventType.DEVIATION_CLOSED, f"DEV-{self.n}", t.mfg_start + timedelta(8))
        self.mfg(EventType.CRYOPRESERVED, t.mfg_complete - timedelta(hours=2))
        self.mfg(EventType.MANUFACTURING_COMPLETED, t.mfg_complete, "harvest")
        if qc:
            for i, test in enumerate(sorted(self.profile.qc_tests)):
                self.qc_in_spec(test, t.qc_start + timedelta(hours=i))
        if review:
            self.decision(EventType.BATCH_RECORD_REVIEWED, t.reviewed, "REVIEWED")

    def phase_release(self) -> None:
        self.decision(EventType.RELEASE_DECIDED, self.t.certified, "CERTIFIED")

    def phase_outbound(self) -> None:
        t = self.t
        self.release(self.ship_out, t.planned_ship, self.cdmo, self.site, self.lane_out)
        self.shipment(
            EventType.SHIPMENT_DEPARTED, self.ship_out, t.planned_ship, "DEPARTED",
            eta=t.outbound_arrive, lane=self.lane_out, logger_id=self.logger_out,
        )  # fmt: skip
        cold = self.profile.cryo.max_c - 40
        self.readings(self.ship_out, self.logger_out, t.planned_ship, t.outbound_arrive, cold)
        arrive = t.outbound_arrive
        self.shipment(EventType.SHIPMENT_DELIVERED, self.ship_out, arrive, "DELIVERED")
        self.accept(self.ship_out, arrive + timedelta(minutes=5), self.cdmo, self.site)
        self.identity(
            "site_receipt",
            arrive + timedelta(minutes=10),
            {"coi": self.coi, "batch": self.batch_id},
        )
        self.clinic(
            EventType.PRODUCT_RECEIVED_AT_SITE, arrive + timedelta(minutes=15), "receipt",
            expires_at=t.expires,
        )  # fmt: skip

    def phase_clinic(self) -> None:
        t = self.t
        self.clinic(EventType.LYMPHODEPLETION_STARTED, t.ld, "lymphodepletion")
        self.clinic(EventType.PRODUCT_THAWED, t.thaw, "thaw")
        self.identity(
            "bedside", t.thaw + timedelta(minutes=2), {"coi": self.coi, "batch": self.batch_id}
        )
        self.clinic(EventType.INFUSION_COMPLETED, t.planned_infusion, "infusion")

    def clean(self) -> Story:
        self.phase_order()
        self.phase_inbound()
        self.phase_manufacturing()
        self.phase_release()
        self.phase_outbound()
        self.phase_clinic()
        return self

    # --- time -----------------------------------------------------------------------------

    def stream(
        self, until: datetime | None = None, every: timedelta = timedelta(hours=1)
    ) -> list[Event]:
        """The events in arrival (record time) order, as the hub receives them, with a
        CLOCK_TICK every ``every`` up to ``until`` (default: a day after the last event)."""
        events = sorted(self.events, key=recorded)
        end = until or events[-1].recorded_at + timedelta(days=1)
        return list(heapq.merge(events, ticks(self.t.ordered, end, every), key=recorded))


def troubled(profile: ProductProfile | str = "cart-fresh-48h", n: int = 7) -> Story:
    """A chain with several exceptions (slot missed, no batch record review at certification,
    late infusion after thaw), some of them reported more than once."""
    s = Story(profile, n)
    s.t = replace(s.t, slot_start=s.t.inbound_depart + timedelta(hours=5))
    s.phase_order()
    s.phase_inbound()
    s.phase_manufacturing(review=False)
    s.phase_release()
    s.phase_outbound()
    s.clinic(EventType.LYMPHODEPLETION_STARTED, s.t.ld, "lymphodepletion")
    s.clinic(EventType.PRODUCT_THAWED, s.t.thaw, "thaw")
    s.clinic(EventType.INFUSION_COMPLETED, s.t.thaw + timedelta(hours=5), "infusion")
    return s
