"""Facts the clinic's EHR reports (HL7 FHIR)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from hub.sim.facts.base import Fact

# --- clinic (FHIR) ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientIdentity:
    """A synthetic patient as the clinic's EHR knows it; pseudonymised at the hub's edge."""

    ref_id: str
    mrn_system: str
    mrn: str
    family: str
    given: str
    birth_date: str
    gender: str


@dataclass(frozen=True, kw_only=True)
class OrderRef:
    """The ServiceRequest a procedure is ``basedOn``, when the EHR sends it along."""

    sr_id: str
    order_id: str
    status: str = "draft"


@dataclass(frozen=True, kw_only=True)
class FhirOrder(Fact):
    partner: ClassVar[str] = "fhir"
    sr_id: str
    version: int
    status: str  # active | revoked
    order_id: str
    order_system: str
    profile: str
    authored: datetime
    planned_infusion: datetime
    location_ref: str
    requester: str
    patient: PatientIdentity
    last_updated: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class FhirCollection(Fact):
    """The apheresis Procedure and the bag it filled (BiologicallyDerivedProduct, with the
    DIN); the bag is sealed and labelled a few minutes after the procedure ends."""

    partner: ClassVar[str] = "fhir"
    proc_id: str
    procedure_end: datetime
    bdp_id: str
    din: str | None
    bag_id: str
    start: datetime
    end: datetime
    collector: str
    location_ref: str
    patient: PatientIdentity


@dataclass(frozen=True, kw_only=True)
class FhirProcedure(Fact):
    partner: ClassVar[str] = "fhir"
    proc_id: str
    kind: str  # lymphodepletion | thaw | infusion
    status: str
    start: datetime
    end: datetime
    performer: str
    location_ref: str
    patient: PatientIdentity
    based_on: OrderRef | None = None
