"""Canonical event models: pydantic mirrors of ``schemas/event.avsc``.

Every model is frozen and strict about unknown fields; every datetime is timezone-aware and
normalised to UTC (a naive datetime is a bug and fails validation). ``tests/unit/test_schemas.py``
proves each model round-trips through its Avro schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a UTC offset")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventType(StrEnum):
    THERAPY_ORDERED = "THERAPY_ORDERED"
    SLOT_BOOKED = "SLOT_BOOKED"
    SLOT_RESCHEDULED = "SLOT_RESCHEDULED"
    COLLECTION_COMPLETED = "COLLECTION_COMPLETED"
    IDENTITY_VERIFIED = "IDENTITY_VERIFIED"
    CUSTODY_RELEASED = "CUSTODY_RELEASED"
    CUSTODY_ACCEPTED = "CUSTODY_ACCEPTED"
    SHIPMENT_DEPARTED = "SHIPMENT_DEPARTED"
    SHIPMENT_STATUS = "SHIPMENT_STATUS"
    SHIPMENT_ETA_UPDATED = "SHIPMENT_ETA_UPDATED"
    SHIPMENT_DELIVERED = "SHIPMENT_DELIVERED"
    TEMPERATURE_READING = "TEMPERATURE_READING"
    MATERIAL_RECEIVED = "MATERIAL_RECEIVED"
    MANUFACTURING_STARTED = "MANUFACTURING_STARTED"
    MANUFACTURING_STEP_COMPLETED = "MANUFACTURING_STEP_COMPLETED"
    CRYOPRESERVED = "CRYOPRESERVED"
    MANUFACTURING_COMPLETED = "MANUFACTURING_COMPLETED"
    QC_RESULT_RECORDED = "QC_RESULT_RECORDED"
    DEVIATION_OPENED = "DEVIATION_OPENED"
    DEVIATION_CLOSED = "DEVIATION_CLOSED"
    BATCH_RECORD_REVIEWED = "BATCH_RECORD_REVIEWED"
    RELEASE_DECIDED = "RELEASE_DECIDED"
    PRODUCT_RECEIVED_AT_SITE = "PRODUCT_RECEIVED_AT_SITE"
    LYMPHODEPLETION_STARTED = "LYMPHODEPLETION_STARTED"
    PRODUCT_THAWED = "PRODUCT_THAWED"
    INFUSION_COMPLETED = "INFUSION_COMPLETED"
    PATIENT_STATUS_CHANGED = "PATIENT_STATUS_CHANGED"
    RECORD_CORRECTED = "RECORD_CORRECTED"
    IDENTIFIER_LINKED = "IDENTIFIER_LINKED"
    CLOCK_TICK = "CLOCK_TICK"


class Source(Frozen):
    """Where an event came from: the partner, its system, its own message id, our receipt time."""

    partner: str
    system: str
    message_id: str
    received_at: UtcDatetime


class Actor(Frozen):
    """Who did it (ALCOA: attributable)."""

    id: str
    role: str | None = None
    organisation: str | None = None


class Location(Frozen):
    id: str
    name: str | None = None
    country: str | None = None


class Identifiers(Frozen):
    """Every business identifier an event carries besides the COI."""

    din: str | None = None
    batch_id: str | None = None
    shipment_id: str | None = None
    order_id: str | None = None
    logger_id: str | None = None
    sample_id: str | None = None
    product_code: str | None = None
    other: dict[str, str] = Field(default_factory=dict)


# --- detail records: one per event family ------------------------------------------------------


class Detail(Frozen):
    AVRO_NAME: ClassVar[str]


class CustodyDetail(Detail):
    """One side of a handover: CUSTODY_RELEASED (by the releasing party) or _ACCEPTED."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.CustodyDetail"
    handover_id: str
    releasing_party: str | None = None
    receiving_party: str | None = None
    lane: str | None = None
    verified_by: str | None = None
    identity_scanned: bool | None = None
    signature: str | None = None


class ShipmentDetail(Detail):
    """Courier status (UN/ECE Rec 24 code), ETA, delivery and customs."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.ShipmentDetail"
    status_code: str | None = None
    status: str
    carrier: str | None = None
    lane: str | None = None
    eta: UtcDatetime | None = None
    reason: str | None = None
    receiver_signature: str | None = None


class TemperatureDetail(Detail):
    """One reading (``value``) or one interval report (min/max/mean over start..end)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.TemperatureDetail"
    logger_id: str | None = None
    unit: str = "CEL"
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    interval_start: UtcDatetime | None = None
    interval_end: UtcDatetime | None = None
    logging_interval_s: int | None = None


class ScheduleDetail(Detail):
    """Therapy order and manufacturing slot (THERAPY_ORDERED, SLOT_BOOKED, SLOT_RESCHEDULED)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.ScheduleDetail"
    product_profile: str | None = None
    slot_id: str | None = None
    slot_start: UtcDatetime | None = None
    slot_end: UtcDatetime | None = None
    planned_ship_at: UtcDatetime | None = None
    planned_infusion_at: UtcDatetime | None = None
    manufacturing_site: str | None = None
    treatment_site: str | None = None
    reason: str | None = None


class MaterialDetail(Detail):
    """Collection, receipt and cryopreservation of material (starting material or product)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.MaterialDetail"
    material_type: str
    quantity: float | None = None
    unit: str | None = None
    collection_end: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    container_id: str | None = None


class IdentityCheckDetail(Detail):
    """A scan: what was expected against what was scanned, at which checkpoint."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.IdentityCheckDetail"
    checkpoint: str
    expected: dict[str, str] = Field(default_factory=dict)
    scanned: dict[str, str] = Field(default_factory=dict)
    matched: bool
    verified_by: str | None = None


class ManufacturingDetail(Detail):
    AVRO_NAME: ClassVar[str] = "org.v2vhub.ManufacturingDetail"
    step: str | None = None
    status: str | None = None
    equipment: str | None = None
    material_lot: str | None = None


class QcResultDetail(Detail):
    AVRO_NAME: ClassVar[str] = "org.v2vhub.QcResultDetail"
    test_code: str
    method: str | None = None
    result_value: float | None = None
    result_text: str | None = None
    unit: str | None = None
    spec_low: float | None = None
    spec_high: float | None = None
    spec_text: str | None = None
    status: str
    out_of_spec: bool | None = None


class DeviationDetail(Detail):
    AVRO_NAME: ClassVar[str] = "org.v2vhub.DeviationDetail"
    deviation_id: str
    classification: str | None = None
    status: str
    capa_id: str | None = None
    description: str | None = None


class QualityDecisionDetail(Detail):
    """Batch record review and QP certification / rejection (usage decision)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.QualityDecisionDetail"
    decision: str
    decision_code: str | None = None
    reference: str | None = None
    reason: str | None = None


class ClinicalDetail(Detail):
    """Clinic milestones: receipt at site, lymphodepletion, thaw, infusion."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.ClinicalDetail"
    procedure: str
    status: str | None = None
    planned_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None


class PatientStatusDetail(Detail):
    AVRO_NAME: ClassVar[str] = "org.v2vhub.PatientStatusDetail"
    status: str
    reason: str | None = None


class CorrectionDetail(Detail):
    """A partner corrected or retracted a record (EPCIS errorDeclaration or equivalent)."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.CorrectionDetail"
    corrected_event_ids: list[str] = Field(default_factory=list)
    corrective_event_ids: list[str] = Field(default_factory=list)
    declared_at: UtcDatetime | None = None
    reason: str | None = None


class LinkDetail(Detail):
    """Teaches the identifier index that a secondary id belongs to this COI."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.LinkDetail"
    id_kind: str
    id_value: str


class ClockTickDetail(Detail):
    """A clock tick: drives absence-of-event rules. ``clock`` is ``wall`` or ``simulated``."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.ClockTickDetail"
    clock: str
    partition: int | None = None


AnyDetail = (
    CustodyDetail
    | ShipmentDetail
    | TemperatureDetail
    | ScheduleDetail
    | MaterialDetail
    | IdentityCheckDetail
    | ManufacturingDetail
    | QcResultDetail
    | DeviationDetail
    | QualityDecisionDetail
    | ClinicalDetail
    | PatientStatusDetail
    | CorrectionDetail
    | LinkDetail
    | ClockTickDetail
)

DETAIL_TYPES: tuple[type[Detail], ...] = (
    CustodyDetail,
    ShipmentDetail,
    TemperatureDetail,
    ScheduleDetail,
    MaterialDetail,
    IdentityCheckDetail,
    ManufacturingDetail,
    QcResultDetail,
    DeviationDetail,
    QualityDecisionDetail,
    ClinicalDetail,
    PatientStatusDetail,
    CorrectionDetail,
    LinkDetail,
    ClockTickDetail,
)


class Event(Frozen):
    """The canonical event envelope (Avro ``org.v2vhub.Event``).

    ``coi_id`` is None only for events a partner could key by a secondary identifier alone
    (a logger knows its shipment); the identifier index re-keys them to their COI.
    """

    AVRO_NAME: ClassVar[str] = "org.v2vhub.Event"
    event_id: str
    event_type: EventType
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    source: Source
    coi_id: str | None = None
    patient_ref: str | None = None
    identifiers: Identifiers = Field(default_factory=Identifiers)
    actor: Actor | None = None
    location: Location | None = None
    biz_step: str | None = None
    disposition: str | None = None
    detail: AnyDetail | None = None
