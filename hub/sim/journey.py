"""One patient's vein-to-vein journey as facts, in the order they happen (DOMAIN.md section 1).

:func:`journey` turns a :class:`~hub.sim.timeline.Timeline` into the facts every partner reports:
the clinic's EHR (order, collection, lymphodepletion, thaw, infusion), the manufacturer's ERP
(process order, batch, release, goods issue), its MES (receipt with label scans, cumulative
production reports), the QC lab, QA, the couriers (tracking webhooks), the data loggers (hourly
uploads of 15-minute readings while in transit: :mod:`hub.sim.transport`) and the site
pharmacy's EPCIS feed. Each fact has a step name (``inbound.delivered``) that faults use to
find it, and a receipt time a few minutes after it happened (within every profile's late-event
SLA).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import datetime

from hub.chain.profiles import ProductProfile
from hub.sim.facts import (
    EpcisDocument,
    EpcisEvent,
    Fact,
    FhirCollection,
    FhirOrder,
    FhirProcedure,
    MesReceipt,
    PatientIdentity,
    QmsDeviation,
    QmsReview,
    SapBatch,
    SapOrder,
    SapUsageDecision,
)
from hub.sim.manufacturing import lims_exports, performance_reports
from hub.sim.network import Network, Patient
from hub.sim.timeline import D, H, M, Timeline
from hub.sim.transport import inbound, outbound

DRUG_PRODUCT = "car_t_drug_product"


def epc(kind: str, seed: int, n: int) -> str:
    company = {"bag": "0614141.112345", "product": "0614141.212345"}[kind]
    return f"urn:epc:id:sgtin:{company}.{seed % 100:02d}{n:06d}"


class Journey:
    """Builds the facts of one patient; ``facts`` is the result."""

    def __init__(
        self, network: Network, patient: Patient, profile: ProductProfile, t: Timeline
    ) -> None:
        self.net, self.p, self.profile, self.t = network, patient, profile, t
        self.rng = random.Random(f"{network.seed}:journey:{patient.n}")  # noqa: S311
        self.facts: list[Fact] = []
        self._seq: dict[str, int] = {}
        clinic = patient.clinic
        self.ehr_zone, self.cdmo_zone = clinic.apheresis.zone, network.cdmo.site.zone
        self.identity = PatientIdentity(
            ref_id=f"pat-{network.seed}-{patient.n}",
            mrn_system=f"{clinic.ehr}/mrn",
            mrn=patient.mrn,
            family=patient.family,
            given=patient.given,
            birth_date=patient.birth_date,
            gender=patient.gender,
        )

    def seq(self, kind: str) -> int:
        self._seq[kind] = self._seq.get(kind, 0) + 1
        return self._seq[kind]

    def uid(self, kind: str) -> str:
        name = f"v2v-sim/{self.net.seed}/{self.p.n}/{kind}/{self.seq(kind)}"
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"

    def docnum(self) -> str:
        return f"00000{self.net.seed % 1000:03d}{self.p.n:05d}{self.seq('docnum'):03d}"

    def add(self, fact: Fact) -> None:
        self.facts.append(fact)

    # --- clinic ------------------------------------------------------------------------------

    def order(self) -> FhirOrder:
        p, t = self.p, self.t
        fact = FhirOrder(
            coi=p.coi, step="order", received=t.ordered + 10 * M, zone=self.ehr_zone,
            sr_id=f"sr-{self.net.seed}-{p.n}", version=1, status="active",
            order_id=p.order_id, order_system=f"{p.clinic.ehr}/orders", profile=p.profile,
            authored=t.ordered, planned_infusion=t.planned_infusion,
            location_ref=f"Location/{p.clinic.infusion.code.lower()}-infusion-suite",
            requester=f"Practitioner/dr-{p.clinic.key.lower()}-{p.n % 7 + 1:03d}",
            patient=self.identity,
        )  # fmt: skip
        self.add(fact)
        return fact

    def collection(self) -> None:
        p, t = self.p, self.t
        self.add(
            FhirCollection(
                coi=p.coi, step="collection", received=t.collection_end + 20 * M,
                zone=self.ehr_zone, proc_id=f"proc-aph-{self.net.seed}-{p.n}",
                procedure_end=t.apheresis_end, bdp_id=f"bdp-{self.net.seed}-{p.n}",
                din=p.din, bag_id=f"BAG-{p.n:05d}-01", start=t.collection_start,
                end=t.collection_end,
                collector=f"Practitioner/rn-{p.clinic.key.lower()}-{p.n % 5 + 1:03d}",
                location_ref=f"Location/{p.clinic.apheresis.code.lower()}-apheresis-unit",
                patient=self.identity,
            )
        )  # fmt: skip
        label = EpcisEvent(
            event_id=self.uid("epcis"), biz_step="commissioning", disposition="active",
            epcs=(epc("bag", self.net.seed, p.n),), at=t.collection_end + 10 * M,
            read_point=p.clinic.apheresis.sgln, coi=p.coi, din=p.din,
            material_type="apheresis", ilmd=True,
        )  # fmt: skip
        self.add(self._epcis("labels", label, t.collection_end + 22 * M))

    def procedure(self, kind: str, status: str, start: datetime, end: datetime) -> None:
        p = self.p
        received = {"lymphodepletion": 40 * M, "thaw": 5 * M, "infusion": 10 * M}[kind]
        anchor = start if kind == "lymphodepletion" else end
        self.add(
            FhirProcedure(
                coi=p.coi, step=kind, received=anchor + received, zone=p.clinic.infusion.zone,
                proc_id=f"proc-{kind[:3]}-{self.net.seed}-{p.n}", kind=kind, status=status,
                start=start, end=end,
                performer=f"Practitioner/rn-{p.clinic.key.lower()}-{p.n % 5 + 1:03d}",
                location_ref=f"Location/{p.clinic.infusion.code.lower()}-infusion-suite",
                patient=self.identity,
            )
        )  # fmt: skip

    def receipt(self) -> MesReceipt:
        p, t, cdmo = self.p, self.t, self.net.cdmo
        return MesReceipt(
            coi=p.coi, step="receipt", received=t.receipt + 5 * M, zone=self.cdmo_zone,
            bod=f"BOD-PHL-{self.net.seed % 1000:03d}-{p.n:05d}-{self.seq('bod'):02d}",
            lot_id=f"LOT-APH-{p.n:05d}", site=cdmo.site.code, sender=cdmo.mes_sender,
            din=p.din, receipt=t.receipt, received_by=f"op-{p.n % 20 + 1000}",
            scanned_coi=f"&/{p.coi}", scanned_din=p.din, check_result="Pass",
            verified_by=f"qa-{p.n % 8 + 200:04d}", shipment_id=p.ship_in,
            carrier=p.clinic.inbound.courier, collection_end=t.collection_end,
            volume_ml=220 + self.rng.randrange(0, 60),
        )  # fmt: skip

    # --- manufacturer --------------------------------------------------------------------------

    def slot(self) -> None:
        p, t, cdmo = self.p, self.t, self.net.cdmo
        self.add(
            SapOrder(
                coi=p.coi, step="slot", received=t.booked + 5 * M, zone=self.cdmo_zone,
                docnum=self.docnum(), order_id=p.order_id, plant=cdmo.plant,
                material=cdmo.material, batch=p.batch, profile=p.profile,
                slot_start=t.slot_start, slot_end=t.cryo, ship=t.ship,
                infusion=t.planned_infusion, treatment_site=p.clinic.infusion.name,
                created=t.booked, user="PLANNER01",
            )
        )  # fmt: skip

    def manufacturing(self) -> None:
        p, t, cdmo = self.p, self.t, self.net.cdmo
        created = t.receipt + 40 * M
        self.add(
            SapBatch(
                coi=p.coi, step="batch", received=created + 5 * M, zone=self.cdmo_zone,
                docnum=self.docnum(), batch=p.batch, material=cdmo.material,
                plant=cdmo.plant, expiry=t.expires.date(), created=created, user="QA.BATCH",
            )
        )  # fmt: skip
        for report in performance_reports(self):
            self.add(report)
        if self.rng.random() < 0.3:
            self.deviation("opened", t.mfg_start + D + 3 * H, "minor")
            self.deviation("closed", t.mfg_start + 5 * D, "minor")
        for export in lims_exports(self):
            self.add(export)
        self.add(
            QmsReview(
                coi=p.coi, step="review", received=t.review + 5 * M, zone=self.cdmo_zone,
                message_id=f"QMS-{self.net.seed % 1000:03d}-{p.n:05d}-{self.seq('qms'):02d}",
                at=t.review, batch=p.batch, review_id=f"BRR-{p.batch}", outcome="Approved",
                comments="Executed batch record reviewed; no open deviation.",
                user="qa-reviewer-007",
            )
        )  # fmt: skip
        self.add(
            SapUsageDecision(
                coi=p.coi, step="release", received=t.certified + 15 * M,
                lot=f"01{self.net.seed % 1000:03d}{p.n:07d}", valuation="A", code="A1",
                decided_by="QP.MILLER", decided=t.certified, batch=p.batch,
                material=cdmo.material, plant=cdmo.plant,
            )
        )  # fmt: skip

    def deviation(self, action: str, at: datetime, classification: str | None) -> None:
        p = self.p
        self.add(
            QmsDeviation(
                coi=p.coi, step=f"deviation.{action}", received=at + 5 * M, zone=self.cdmo_zone,
                message_id=f"QMS-{self.net.seed % 1000:03d}-{p.n:05d}-{self.seq('qms'):02d}",
                action=action, at=at, batch=p.batch, dev_id=f"DEV-25-{p.n:05d}",
                classification=classification,
                title="Incubator CO2 excursion during expansion", user="qa-specialist-012",
                site=self.net.cdmo.site.code,
            )
        )  # fmt: skip

    # --- the treatment site's pharmacy ----------------------------------------------------------

    def site_receipt(self) -> None:
        p, t, site = self.p, self.t, self.p.clinic.infusion
        bag = (epc("product", self.net.seed, p.n),)
        received = EpcisEvent(
            event_id=self.uid("epcis"), biz_step="receiving", disposition="in_progress",
            epcs=bag, at=t.site_receipt, read_point=site.sgln, biz_location=site.sgln,
            coi=p.coi, batch=p.batch, material_type=DRUG_PRODUCT, shipment_id=p.ship_out,
            destination=site.sgln,
        )  # fmt: skip
        stored = EpcisEvent(
            event_id=self.uid("epcis"), biz_step="storing", disposition="in_progress",
            epcs=bag, at=t.site_receipt + 10 * M, read_point=f"{site.sgln[:-2]}.7",
            biz_location=site.sgln, coi=p.coi, batch=p.batch,
            device_id=f"urn:epc:id:giai:4000001.{p.n:05d}",
            readings=((t.site_receipt + 10 * M, round(-182.0 + self.rng.uniform(-1, 1), 1)),),
        )  # fmt: skip
        doc = self._epcis("site.receipt", received, t.site_receipt + 25 * M)
        self.add(replace(doc, events=(received, stored)))

    def _epcis(self, step: str, event: EpcisEvent, received: datetime) -> EpcisDocument:
        return EpcisDocument(
            coi=self.p.coi, step=step, received=received, zone=self.p.clinic.infusion.zone,
            doc_id=self.uid("epcis-doc"), created=received - 2 * M, events=(event,),
        )  # fmt: skip

    def clinic(self) -> None:
        t = self.t
        self.procedure("lymphodepletion", "in-progress", t.ld, t.ld)
        self.procedure("thaw", "completed", t.thaw - 20 * M, t.thaw)
        self.procedure("infusion", "completed", max(t.thaw, t.infusion - 10 * M), t.infusion)


def journey(network: Network, patient: Patient, profile: ProductProfile, t: Timeline) -> Journey:
    """Every fact of a clean journey, in the order they happen."""
    j = Journey(network, patient, profile, t)
    j.order()
    j.slot()
    j.collection()
    inbound(j)
    j.add(j.receipt())
    j.manufacturing()
    outbound(j)
    j.site_receipt()
    j.clinic()
    return j
