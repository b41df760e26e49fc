"""Fault injection with ground truth: one fault per chain, every code of the catalogue.

A fault perturbs one journey: it replaces times of the timeline (the thing that happened late
or early) and/or edits the journey's facts (a wrong scan, a missing signature, an excursion in
a logger upload, a duplicate webhook with other content). Each fault states the codes the
engine must raise on that chain - exactly those, no more - and when the fault happened in
simulated time (detection latency is measured from there). The timeline leaves enough room
that one fault moves one thing, so every fault raises its own code only. Two ``MALFORMED_*``
faults add a broken copy of a message that the partner then resends intact: ground truth for
the dead-letter topic, and no case.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.sim.faults import clinic, identity, logistics, quality
from hub.sim.faults.base import FAULTS, Ctx, Effect, Fault, Injection, fault
from hub.sim.network import rng_for

CODES: tuple[str, ...] = (
    "COI_MISMATCH_RECEIPT", "COI_MISMATCH_INFUSION", "DIN_UNLINKED", "INVALID_IDENTIFIER",
    "CUSTODY_GAP", "DOUBLE_CUSTODY", "UNVERIFIED_HANDOVER", "FRESH_STABILITY_BREACH",
    "TEMP_EXCURSION_FRESH", "TEMP_EXCURSION_CRYO", "SHIPPER_HOLD_AT_RISK", "LOGGER_DATA_GAP",
    "ETA_BEYOND_WINDOW", "CUSTOMS_HOLD", "SHIPMENT_DAMAGED", "SHIPMENT_LOST",
    "DELIVERY_NOT_COMPLETED", "SLOT_MISSED", "QC_OUT_OF_SPEC",
    "RELEASE_EVIDENCE_INCOMPLETE", "SHIPPED_BEFORE_RELEASE", "LD_BEFORE_AVAILABILITY",
    "THAW_WINDOW_EXCEEDED", "V2V_OVER_TARGET", "DUPLICATE_CONFLICT", "LATE_EVENT",
    "OUT_OF_SEQUENCE", "TIMEZONE_MISSING", "RECORD_CORRECTED", "EXPIRY_APPROACHING",
    "PATIENT_STATUS_CHANGE",
)  # fmt: skip
"""Every code of the catalogue (DOMAIN.md section 6), in its order."""
MALFORMED: tuple[str, ...] = ("MALFORMED_WEBHOOK", "MALFORMED_EXPORT")
ALL: tuple[str, ...] = CODES + MALFORMED
_FIRST = (
    "CUSTODY_GAP", "TEMP_EXCURSION_FRESH", "QC_OUT_OF_SPEC", "PATIENT_STATUS_CHANGE",
    "TIMEZONE_MISSING", "SHIPPED_BEFORE_RELEASE", "LOGGER_DATA_GAP", "COI_MISMATCH_RECEIPT",
    "MALFORMED_WEBHOOK",
)  # fmt: skip
"""Faults a small network gets first (every rule family and every stand-in of the bridge)."""


def default_faults(patients: int) -> tuple[str, ...]:
    """Every fault when the network is big enough to keep a quarter of its chains clean (at
    least four), else as many as fit, most telling first."""
    if patients >= len(ALL) + 4:
        return ALL
    room = max(0, patients - max(2, patients // 4))
    ordered = list(_FIRST) + [f for f in ALL if f not in _FIRST]
    return tuple(ordered[:room])


def assign(contexts: Sequence[Ctx], names: Sequence[str], seed: int) -> dict[int, Fault]:
    """Patient number -> fault: each fault on its own patient (seeded choice), faults with an
    applicability condition first; a fault no patient fits is left out."""
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown faults {unknown}; known: {', '.join(ALL)}")
    order = list(contexts)
    rng_for(seed, "assign").shuffle(order)
    chosen: dict[int, Fault] = {}
    restricted = sorted(names, key=lambda n: FAULTS[n].applies is FAULTS["CUSTODY_GAP"].applies)
    for name in restricted:
        candidate = next(
            (c for c in order if c.p.n not in chosen and FAULTS[name].applies(c)), None
        )
        if candidate is not None:
            chosen[candidate.p.n] = FAULTS[name]
    return chosen


__all__ = [
    "ALL",
    "CODES",
    "FAULTS",
    "MALFORMED",
    "Ctx",
    "Effect",
    "Fault",
    "Injection",
    "assign",
    "clinic",
    "default_faults",
    "fault",
    "identity",
    "logistics",
    "quality",
]
