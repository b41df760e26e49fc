"""Partner vocabulary the rules interpret, in one place (case-insensitive).

Connectors map their dialects onto these words; the engine accepts the common synonyms so a
slightly different dialect does not silently bypass a rule.
"""

from __future__ import annotations

CERTIFIED = frozenset({"CERTIFIED", "RELEASED", "APPROVED", "ACCEPTED", "QP_CERTIFIED"})
REJECTED = frozenset({"REJECTED", "NOT_RELEASED", "DESTROY", "DESTROYED"})
REVIEWED = frozenset({"REVIEWED", "APPROVED", "COMPLETE", "COMPLETED", "ACCEPTED"})
DEVIATION_CLOSED = frozenset({"CLOSED", "CANCELLED", "COMPLETED"})
QC_OOS = frozenset({"OOS", "OUT_OF_SPEC", "FAIL", "FAILED", "NON_CONFORMANT"})
QC_PASS = frozenset({"PASS", "PASSED", "CONFORMS", "IN_SPEC", "CONFORMANT"})
QC_NOT_FINAL = frozenset({"PENDING", "PRELIMINARY", "IN_PROGRESS", "CANCELLED", "INVALID"})
PATIENT_STOP = frozenset(
    {
        "WITHDRAWN",
        "INELIGIBLE",
        "DECEASED",
        "ON_HOLD",
        "CONSENT_WITHDRAWN",
        "NOT_ELIGIBLE",
        "ORDER_REVOKED",  # the clinic revoked the therapy order (FHIR ServiceRequest revoked)
    }
)
PATIENT_END = PATIENT_STOP - {"ON_HOLD"}
"""Statuses that end the chain for good (a hold may lift): the therapy's clocks stop."""
CUSTOMS_HOLD = frozenset({"CUSTOMS_HOLD", "CUSTOMS_REFUSED", "HELD_BY_CUSTOMS"})
CUSTOMS_REFUSED_CODE = "17"  # UN/ECE Rec 24: customs clearance refused
# Courier statuses of UN/ECE Rec 24 classes damage, loss, refusal and delivery-not-completed
# (connectors/courier/rec24.py), with the common dialect words for each.
SHIPMENT_DAMAGED = frozenset({"DAMAGED", "DAMAGE", "ARRIVED_DAMAGED", "DAMAGED_IN_TRANSIT"})
SHIPMENT_LOST = frozenset({"LOST", "NOT_FOUND", "MISSING", "STOLEN", "PLUNDERED"})
DELIVERY_REFUSED = frozenset({"REFUSED", "REFUSED_BY_CONSIGNEE", "DELIVERY_REFUSED"})
DELIVERY_FAILED = frozenset(
    {"DELIVERY_NOT_COMPLETED", "NOT_DELIVERED", "DELIVERY_FAILED", "UNDELIVERED"}
)
BEDSIDE_WORDS = ("BEDSIDE", "INFUSION", "ADMINISTRATION")


def norm(value: str | None) -> str:
    """Upper-case, trimmed, spaces and dashes as underscores ('' for None)."""
    if not value:
        return ""
    return value.strip().upper().replace(" ", "_").replace("-", "_")


def is_certified(decision: str | None) -> bool:
    return norm(decision) in CERTIFIED


def is_bedside(checkpoint: str) -> bool:
    """A bedside (pre-infusion) checkpoint; every other checkpoint is a receipt-type check."""
    word = norm(checkpoint)
    return any(w in word for w in BEDSIDE_WORDS)
