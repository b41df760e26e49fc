"""SAP ERP: IDoc XML (LOIPRO, BATMAS, DESADV) and OData JSON (inspection-lot usage decisions).

The message kind is read from the content, never from the content type: markup is an IDoc,
``{`` is OData. Within an IDoc file, ``EDI_DC40-MESTYP`` selects the mapper and ``IDOCTYP``
must be a basic type of that message type.

==========  ===========================  ===================================================
message     content                      canonical events
==========  ===========================  ===================================================
LOIPRO      process order created        THERAPY_ORDERED + SLOT_BOOKED
LOIPRO      process order changed (V)    SLOT_RESCHEDULED
BATMAS      batch master                 IDENTIFIER_LINKED (batch_id -> COI)
DESADV      goods issue posted           CUSTODY_RELEASED + SHIPMENT_DEPARTED
DESADV      advance notice (no GI yet)   SHIPMENT_STATUS(ANNOUNCED)
OData       usage decision A / R         RELEASE_DECIDED (CERTIFIED / REJECTED)
==========  ===========================  ===================================================

Field mapping, the ``Z1V2VHUB`` extension segment and every rejection code: README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from connectors.base import Connector, RawMessage, unique_events
from connectors.jsonreader import parse_json_object
from connectors.sap.idoc import IdocContext, read_control
from connectors.sap.messages import MAPPERS
from connectors.sap.odata import UsageDecisions
from connectors.xmlsupport import Element, children, local_name, parse_xml
from hub.errors import NormalisationError
from hub.events.models import Event


class SapConnector(Connector):
    """SAP ERP messages; pure and total like every connector (see :mod:`connectors.base`)."""

    name: ClassVar[str] = "sap"
    system: ClassVar[str] = "sap-erp"
    content_types: ClassVar[tuple[str, ...]] = ("application/xml", "application/json")

    def normalise(self, message: RawMessage) -> list[Event]:
        body = message.payload.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM is not content
        head = body.lstrip()[:1]
        if head == b"<":
            idocs = self._idocs(message, parse_xml(message.payload, self.name))
            return unique_events(idocs, self.name)
        if head in (b"{", b"["):
            data = parse_json_object(body, self.name)
            odata = UsageDecisions(
                self.name, self.system, message.received_at, self.config.coi_pattern
            )
            return unique_events(odata.events(data), self.name)
        try:
            message.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NormalisationError(
                f"payload is not UTF-8 (byte {exc.start})", partner=self.name, code="NOT_UTF8"
            ) from exc
        raise NormalisationError(
            "payload is neither IDoc XML nor OData JSON",
            partner=self.name,
            code="UNSUPPORTED_FORMAT",
        )

    def _idocs(self, message: RawMessage, root: Element) -> list[Event]:
        idocs = children(root, "IDOC")
        if not idocs:
            raise NormalisationError(
                f"XML root <{local_name(root)}> holds no IDOC element: not an IDoc file",
                partner=self.name,
                field=local_name(root),
                code="NOT_AN_IDOC",
            )
        events: list[Event] = []
        for idoc in idocs:
            control = read_control(idoc, self.name)
            entry = MAPPERS.get(control.mestyp)
            if entry is None or not control.idoctyp.startswith(entry[0]):
                known = ", ".join(f"{m} ({'/'.join(t)}..)" for m, (t, _) in MAPPERS.items())
                raise NormalisationError(
                    f"IDoc {control.docnum}: message type {control.mestyp} / basic type "
                    f"{control.idoctyp} is not supported (supported: {known})",
                    partner=self.name,
                    message_id=control.docnum,
                    field="EDI_DC40/MESTYP",
                    code="UNSUPPORTED_IDOC_TYPE",
                )
            ctx = IdocContext(
                envelope=self.envelope(message, control.docnum),
                idoc=idoc,
                control=control,
                coi_pattern=self.config.coi_pattern,
                coi_fields=coi_fields(self.config.partner_options),
            )
            events.extend(entry[1](ctx))
        return events


CONNECTOR = SapConnector


def coi_fields(options: Mapping[str, Any]) -> tuple[str, ...]:
    """``fields.coi`` of the partner's registry entry: ``SEG/FIELD`` paths (comma-separated or
    a list) where a partner's IDocs carry the COI besides ``Z1V2VHUB/COI``."""
    named = (options.get("fields") or {}).get("coi")
    paths = named.split(",") if isinstance(named, str) else list(named or ())
    return tuple(p.strip() for p in paths if p.strip() and not p.startswith("Z1V2VHUB/"))
