"""MES (ISA-95 / B2MML XML): production performance and material lot receipts.

===================================================  =========================================
root element (any B2MML namespace or none)           canonical events
===================================================  =========================================
Process/Notify/Sync ProductionPerformance,           MANUFACTURING_STARTED,
ProductionPerformance, ProductionResponse            MANUFACTURING_STEP_COMPLETED,
                                                     CRYOPRESERVED, MANUFACTURING_COMPLETED
Process/Notify/Sync MaterialLot, MaterialLot         MATERIAL_RECEIVED [+ IDENTITY_VERIFIED]
                                                     [+ CUSTODY_ACCEPTED]
===================================================  =========================================

Element-level mapping and every rejection code: README.md beside this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from connectors.base import Connector, RawMessage, unique_events
from connectors.mes.b2mml import Document, check_namespace, split_verb
from connectors.mes.performance import performance_events
from connectors.mes.receipt import receipt_events
from connectors.xmlsupport import local_name, parse_xml
from hub.errors import NormalisationError
from hub.events.models import Event

# Noun -> mapper; the noun may come bare or behind one of the verbs in b2mml.VERBS.
NOUNS: dict[str, Callable[[Document], list[Event]]] = {
    "ProductionPerformance": performance_events,
    "ProductionResponse": performance_events,
    "MaterialLot": receipt_events,
}


class MesConnector(Connector):
    """B2MML from the manufacturing execution system; pure and total (see connectors.base)."""

    name: ClassVar[str] = "mes"
    system: ClassVar[str] = "mes-isa95"
    content_types: ClassVar[tuple[str, ...]] = ("application/xml", "text/xml")

    def normalise(self, message: RawMessage) -> list[Event]:
        root = parse_xml(message.payload, self.name)
        check_namespace(root, self.name)
        root_name = local_name(root)
        verb, noun = split_verb(root_name)
        mapper = NOUNS.get(noun)
        if mapper is None or (verb is not None and noun == "ProductionResponse"):
            raise NormalisationError(
                f"B2MML message <{root_name}> is not one the hub reads (supported: "
                "Process/Notify/Sync + ProductionPerformance or MaterialLot, or the bare nouns "
                "ProductionPerformance, ProductionResponse, MaterialLot)",
                partner=self.name,
                field=root_name,
                code="UNSUPPORTED_MESSAGE",
            )
        doc = Document.read(
            self.name, self.system, message.received_at, root, self.config.coi_pattern
        )
        return unique_events(mapper(doc), self.name)


CONNECTOR = MesConnector
