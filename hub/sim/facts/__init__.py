"""Facts: what happened in the network, one record per partner message, before any dialect.

A journey (:mod:`hub.sim.journey`) produces facts; faults (:mod:`hub.sim.faults`) perturb them
(a wrong scan, a missing signature, a late delivery of the message...); the writers in
:mod:`hub.sim.dialects` turn each fact into the partner's native bytes. Every fact is frozen:
a perturbation is a ``dataclasses.replace``.

Times are aware datetimes (UTC inside the simulator); ``zone`` is the IANA zone a partner writes
its local times in. ``received`` is when the hub's edge receives the message (simulated time).
"""

from hub.sim.facts.base import Fact
from hub.sim.facts.clinic import FhirCollection, FhirOrder, FhirProcedure, OrderRef, PatientIdentity
from hub.sim.facts.logistics import CourierStatus, EpcisDocument, EpcisEvent, LoggerExport
from hub.sim.facts.manufacturer import (
    LimsExport,
    LimsResult,
    MesPerformance,
    MesReceipt,
    MesSegment,
    QmsDeviation,
    QmsReview,
    SapBatch,
    SapDelivery,
    SapOrder,
    SapUsageDecision,
)

__all__ = [
    "CourierStatus",
    "EpcisDocument",
    "EpcisEvent",
    "Fact",
    "FhirCollection",
    "FhirOrder",
    "FhirProcedure",
    "LimsExport",
    "LimsResult",
    "LoggerExport",
    "MesPerformance",
    "MesReceipt",
    "MesSegment",
    "OrderRef",
    "PatientIdentity",
    "QmsDeviation",
    "QmsReview",
    "SapBatch",
    "SapDelivery",
    "SapOrder",
    "SapUsageDecision",
]
