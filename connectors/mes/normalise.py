"""MES (ISA-95 / B2MML XML): production performance and material lot receipts.

===================================================  =========================================
root element (B2MML V0401 to V07, or no namespace)   canonical events
===================================================  =========================================
Process/Notify/Sync/Show ProductionPerformance or    MANUFACTURING_STARTED,
OperationsPerformance; those bare, and bare          MANUFACTURING_STEP_COMPLETED,
ProductionResponse or OperationsResponse             CRYOPRESERVED, MANUFACTURING_COMPLETED
Process/Notify/Sync/Show MaterialLot or              MATERIAL_RECEIVED [+ IDENTITY_VERIFIED]
MaterialInformation (its lots); bare MaterialLot     [+ CUSTODY_ACCEPTED]
===================================================  =========================================

Element-level mapping and every rejection code: README.md beside this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from connectors.base import Connector, ConnectorConfig, RawMessage, unique_events
from connectors.mes.b2mml import Document
from connectors.mes.config import MesOptions
from connectors.mes.dialect import check_verb, dialect_of, split_verb, unsupported
from connectors.mes.performance import PERFORMANCE_NOUNS, RESPONSE_NOUNS, performance_events
from connectors.mes.receipt import LOT_NOUNS, receipt_events
from connectors.xmlsupport import local_name, parse_xml
from hub.events.models import Event

# Noun -> mapper; the noun may come bare or behind one of the reporting verbs.
NOUNS: dict[str, Callable[[Document, str], list[Event]]] = {
    **dict.fromkeys(PERFORMANCE_NOUNS + RESPONSE_NOUNS, performance_events),
    **dict.fromkeys(LOT_NOUNS, receipt_events),
}
_READ = "ProductionPerformance / OperationsPerformance, MaterialLot / MaterialInformation"


class MesConnector(Connector):
    """B2MML from the manufacturing execution system; pure and total (see connectors.base)."""

    name: ClassVar[str] = "mes"
    system: ClassVar[str] = "mes-isa95"
    content_types: ClassVar[tuple[str, ...]] = ("application/xml", "text/xml")

    def __init__(self, config: ConnectorConfig | None = None) -> None:
        super().__init__(config)
        self.options = MesOptions.from_partner_options(self.config.partner_options)

    def normalise(self, message: RawMessage) -> list[Event]:
        root = parse_xml(message.payload, self.name)
        dialect = dialect_of(root, self.name)
        verb, noun = split_verb(local_name(root))
        if verb is not None and noun not in RESPONSE_NOUNS:
            check_verb(dialect, root, verb, self.name)
        mapper = NOUNS.get(noun)
        if mapper is None:
            raise unsupported(
                dialect, root, f"noun {noun} is not mapped (the hub reads {_READ})", self.name
            )
        if verb is None:
            if noun == "MaterialInformation":
                raise unsupported(
                    dialect, root, "MaterialInformation comes only inside a BOD", self.name
                )
        elif noun in RESPONSE_NOUNS:
            raise unsupported(
                dialect,
                root,
                f"{noun} is not a BOD noun; a BOD carries it inside "
                f"{noun.replace('Response', 'Performance')}",
                self.name,
            )
        doc = Document.read(
            self.name,
            self.system,
            message.received_at,
            root,
            self.config.coi_pattern,
            self.options.properties,
        )
        return unique_events(mapper(doc, noun), self.name)


CONNECTOR = MesConnector
