"""Identifier systems and codes the FHIR connector recognises (documented in README.md).

These are the defaults of ``FhirPartnerConfig`` (``config.py``); a partner whose EHR uses other
systems or codes gets them through its partner options, nothing else changes.
"""

from __future__ import annotations

from enum import StrEnum

# The Chain of Identity identifier (ISBT 128 Data Structure 040), on ServiceRequest,
# Procedure or BiologicallyDerivedProduct.identifier.
COI_SYSTEMS = frozenset({"https://v2v-hub.org/fhir/NamingSystem/coi"})

# ISBT 128 Donation Identification Number on BiologicallyDerivedProduct.identifier; in R5 the
# biologicalSourceEvent identifier is the DIN whatever its system.
DIN_SYSTEMS = frozenset({"https://v2v-hub.org/fhir/NamingSystem/din"})

# The hub's patient pseudonyms (``hub.events.pseudonym``): the identifier system that
# ``FhirConnector.prepare_raw`` gives a pseudonymised Patient and every patient reference. An
# identifier in this system is taken as already pseudonymised: its value is used as it is, and
# must look like a pseudonym (``pt-`` + 24 lower-case hex digits).
PSEUDONYM_SYSTEM = "https://v2v-hub.org/fhir/NamingSystem/patient-pseudonym"

# Medical record number: HL7 v2 table 0203 identifier type "MR".
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_TYPE = "MR"
PLACER_TYPE = "PLAC"

# ServiceRequest.code / orderDetail coding naming the hub product profile.
PRODUCT_PROFILE_SYSTEM = "https://v2v-hub.org/fhir/CodeSystem/product-profile"

PROCEDURE_SYSTEM = "https://v2v-hub.org/fhir/CodeSystem/cell-therapy-procedure"
SNOMED = "http://snomed.info/sct"


class ProcedureKind(StrEnum):
    APHERESIS = "apheresis"
    LYMPHODEPLETION = "lymphodepletion"
    THAW = "thaw"
    INFUSION = "infusion"


PROCEDURE_CODES: dict[tuple[str, str], ProcedureKind] = {
    (PROCEDURE_SYSTEM, "apheresis"): ProcedureKind.APHERESIS,
    (PROCEDURE_SYSTEM, "lymphodepletion"): ProcedureKind.LYMPHODEPLETION,
    (PROCEDURE_SYSTEM, "thaw"): ProcedureKind.THAW,
    (PROCEDURE_SYSTEM, "infusion"): ProcedureKind.INFUSION,
    # SNOMED CT 127788007 |Apheresis (procedure)|: confirm against the site's SNOMED release.
    (SNOMED, "127788007"): ProcedureKind.APHERESIS,
}

# ServiceRequest.intent values that are the clinic's therapy order. proposal, plan, directive and
# option are no order; filler-order is the performer's copy of an order (it would count the
# clinic's order twice), reflex-order and instance-order are follow-ups or occurrences generated
# from another request. A partner that needs one of them adds it (``FhirPartnerConfig``).
ORDER_INTENTS = frozenset({"order", "original-order"})
ORDER_ACTIVE_STATUSES = frozenset({"active", "on-hold", "completed"})

# Procedure.status values for which lymphodepletion has started.
STARTED_STATUSES = frozenset({"in-progress", "on-hold", "stopped", "completed"})
