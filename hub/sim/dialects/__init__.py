"""Writers: each turns one fact into the native bytes of its partner, as the connector reads
them (``connectors/<partner>/README.md``). :func:`render` picks the writer by fact type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.sim.dialects import courier, epcis, fhir, lims, logger, mes, qms, sap
from hub.sim.facts import (
    CourierStatus,
    EpcisDocument,
    Fact,
    FhirCollection,
    FhirOrder,
    FhirProcedure,
    LimsExport,
    LoggerExport,
    MesPerformance,
    MesReceipt,
    QmsDeviation,
    QmsReview,
    SapBatch,
    SapDelivery,
    SapOrder,
    SapUsageDecision,
)


@dataclass(frozen=True)
class Native:
    """One partner message as it travels: bytes plus the content type its sender declares."""

    payload: bytes
    content_type: str


_XML, _JSON = "application/xml", "application/json"
_WRITERS: dict[type[Fact], tuple[Callable[[Any], bytes], str]] = {
    CourierStatus: (courier.write, _JSON),
    LoggerExport: (logger.write, "text/csv"),
    QmsDeviation: (qms.deviation, _JSON),
    QmsReview: (qms.review, _JSON),
    SapOrder: (sap.order, _XML),
    SapBatch: (sap.batch, _XML),
    SapDelivery: (sap.delivery, _XML),
    SapUsageDecision: (sap.usage_decision, _JSON),
    MesReceipt: (mes.receipt, _XML),
    MesPerformance: (mes.performance, _XML),
    EpcisDocument: (epcis.write, "application/ld+json"),
    FhirOrder: (fhir.order, "application/fhir+json"),
    FhirCollection: (fhir.collection, "application/fhir+json"),
    FhirProcedure: (fhir.procedure, "application/fhir+json"),
}


def render(fact: Fact) -> Native:
    if isinstance(fact, LimsExport):
        payload, content_type = lims.write(fact)
        return Native(payload, content_type)
    writer, content_type = _WRITERS[type(fact)]
    return Native(writer(fact), content_type)


__all__ = ["Native", "render"]
