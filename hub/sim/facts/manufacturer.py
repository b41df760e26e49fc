"""Facts the manufacturer reports: ERP (SAP), MES (B2MML), QC lab (LIMS), QA (QMS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from hub.sim.facts.base import Fact

# --- ERP (SAP IDoc + OData) ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SapOrder(Fact):
    """LOIPRO process order: the manufacturing slot booked for this patient."""

    partner: ClassVar[str] = "sap"
    docnum: str
    order_id: str
    plant: str
    material: str
    batch: str
    profile: str
    slot_start: datetime
    slot_end: datetime
    ship: datetime
    infusion: datetime
    treatment_site: str
    created: datetime
    user: str


@dataclass(frozen=True, kw_only=True)
class SapBatch(Fact):
    """BATMAS batch master: batch -> COI (classification characteristic)."""

    partner: ClassVar[str] = "sap"
    docnum: str
    batch: str
    material: str
    plant: str
    expiry: date
    created: datetime
    user: str


@dataclass(frozen=True, kw_only=True)
class SapDelivery(Fact):
    """DESADV outbound delivery with goods issue posted (custody released, departed)."""

    partner: ClassVar[str] = "sap"
    docnum: str
    delivery: str
    shipment_id: str
    batch: str
    material: str
    plant: str
    route: str
    ship_from: str
    ship_to: str
    ship_to_id: str
    carrier: str
    goods_issue: datetime
    planned_delivery: datetime
    created: datetime
    user: str


@dataclass(frozen=True, kw_only=True)
class SapUsageDecision(Fact):
    """OData inspection-lot usage decision: the QP's release (A) or rejection (R)."""

    partner: ClassVar[str] = "sap"
    lot: str
    valuation: str
    code: str
    decided_by: str
    decided: datetime
    batch: str
    material: str
    plant: str


# --- manufacturer (MES, B2MML) ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MesReceipt(Fact):
    """SyncMaterialLot: the apheresis bag received at the manufacturer, labels scanned."""

    partner: ClassVar[str] = "mes"
    bod: str
    lot_id: str
    site: str
    sender: str
    din: str | None
    receipt: datetime
    received_by: str
    scanned_coi: str
    scanned_din: str | None
    check_result: str
    verified_by: str
    shipment_id: str
    carrier: str
    collection_end: datetime
    volume_ml: int
    accepted_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class MesSegment:
    seg_id: str
    process: str
    start: datetime
    end: datetime | None
    person: str
    equipment: str


@dataclass(frozen=True, kw_only=True)
class MesPerformance(Fact):
    """ProcessProductionPerformance: a cumulative progress report of one patient batch."""

    partner: ClassVar[str] = "mes"
    bod: str
    perf_id: str
    response_id: str
    order_id: str
    site: str
    sender: str
    published: datetime
    start: datetime
    segments: tuple[MesSegment, ...]
    state: str
    end: datetime | None
    din: str | None
    batch: str
    bag_id: str
    volume_ml: int
    expiry: datetime


# --- QC laboratory (LIMS) --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LimsResult:
    result_id: str
    sample_id: str
    test: str
    method: str
    value: float | None
    text: str | None
    unit: str | None
    low: float | None
    high: float | None
    spec_text: str
    status: str
    at: datetime
    analyst: str
    reviewer: str


@dataclass(frozen=True, kw_only=True)
class LimsExport(Fact):
    partner: ClassVar[str] = "lims"
    export_id: str
    lab: str
    fmt: str  # csv | json
    batch: str
    with_coi: bool
    results: tuple[LimsResult, ...]
    drop_column: str | None = None  # a broken export (malformed-message fault)


# --- quality (QMS) ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QmsDeviation(Fact):
    partner: ClassVar[str] = "qms"
    message_id: str
    action: str  # opened | classified | closed
    at: datetime
    batch: str
    dev_id: str
    classification: str | None
    title: str
    user: str
    site: str
    naive: bool = False  # the QMS left the offset out (TIMEZONE_MISSING fault)


@dataclass(frozen=True, kw_only=True)
class QmsReview(Fact):
    partner: ClassVar[str] = "qms"
    message_id: str
    at: datetime
    batch: str
    review_id: str
    outcome: str
    comments: str
    user: str
