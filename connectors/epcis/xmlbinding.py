"""The XML binding of EPCIS 2.0 and EPCIS 1.2, read into the shape of the JSON binding.

EPCIS defines its bindings as equivalent, so an XML document is turned into the dictionary the
JSON / JSON-LD binding would have for it, and from there the connector maps both alike (the same
canonical events for the same EPCIS events). Parsing goes through
:func:`connectors.xmlsupport.parse_xml` (DTDs and entity declarations refused before parsing).

Differences handled here:

* namespaces: ``urn:epcglobal:epcis:xsd:2`` (2.0) and ``:1`` (1.2), and the query documents'
  ``urn:epcglobal:epcis-query:xsd:1``/``:2``; any other root is ``UNKNOWN_TYPE``;
* EPCIS 1.2 wraps later additions in ``<extension>`` / ``<baseExtension>`` elements (events in
  the ``EventList``, ``quantityList``, ``sourceList``, ``ilmd``, ``eventID``,
  ``errorDeclaration``...): the wrappers are flattened;
* lists (``epcList/epc``, ``quantityList/quantityElement``, ``bizTransactionList`` with its
  ``type`` attribute, ``sensorElementList/sensorElement``...) become arrays; sensor metadata and
  reports are attributes, numeric ones become numbers, ``booleanValue`` a boolean;
* user extensions (any other namespace) keep their prefix (``example:myField``); elements in the
  hub's namespace are always written ``v2v:<name>``.

An event without an ``eventID`` is keyed by the hash of this dictionary, which is not the hash of
the JSON binding of the same event (number and extension spellings differ): send ``eventID``s
to have one key across bindings.
"""

from __future__ import annotations

from typing import Any

from connectors.epcis.objects import V2V_NS
from connectors.xmlsupport import Element, local_name, namespace, parse_xml, path_of, text_of
from hub.errors import NormalisationError

EPCIS_NAMESPACES = frozenset({"urn:epcglobal:epcis:xsd:1", "urn:epcglobal:epcis:xsd:2"})
QUERY_NAMESPACES = frozenset({"urn:epcglobal:epcis-query:xsd:1", "urn:epcglobal:epcis-query:xsd:2"})
EVENT_ELEMENTS = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_WRAPPERS = frozenset({"extension", "baseExtension"})
_TEXT = frozenset(
    {
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "action",
        "bizStep",
        "disposition",
        "parentID",
        "transformationID",
    }
)
_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_PARTY_LISTS = {"sourceList": "source", "destinationList": "destination"}
_NUMBERS = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)


def read_document(payload: bytes, partner: str) -> dict[str, Any]:
    """The JSON-binding dictionary of an EPCIS 2.0 / 1.2 XML document, query document or bare
    event; a rejection (code + element path) when it is none of these or is malformed."""
    root = parse_xml(payload, partner)
    name, ns = local_name(root), namespace(root)
    reader = _Reader(partner)
    if name == "EPCISDocument" and ns in EPCIS_NAMESPACES:
        events = reader.event_list(reader.required(root, "EPCISBody/EventList"))
        return {"type": "EPCISDocument", "epcisBody": {"eventList": events}}
    if name == "EPCISQueryDocument" and ns in QUERY_NAMESPACES:
        results = reader.required(root, "EPCISBody/QueryResults/resultsBody")
        event_list = _child(results, "EventList")
        events = reader.event_list(event_list) if event_list is not None else []
        body = {"queryResults": {"resultsBody": {"eventList": events}}}
        return {"type": "EPCISQueryDocument", "epcisBody": body}
    if name in EVENT_ELEMENTS:
        return reader.event(root)
    raise NormalisationError(
        f"unknown EPCIS XML document {{{ns or ''}}}{name} (expected an EPCIS 1.2 / 2.0 "
        "EPCISDocument, EPCISQueryDocument or an event)",
        partner=partner,
        field=name,
        code="UNKNOWN_TYPE",
    )


def _child(el: Element, name: str) -> Element | None:
    for c in _fields(el):
        if local_name(c) == name:
            return c
    return None


def _fields(el: Element) -> list[Element]:
    """Child elements with 1.2's ``extension`` / ``baseExtension`` wrappers flattened."""
    out: list[Element] = []
    for c in el:
        if not isinstance(c.tag, str):
            continue  # comments, processing instructions
        if local_name(c) in _WRAPPERS and namespace(c) is None:
            out.extend(_fields(c))
        else:
            out.append(c)
    return out


def _key(el: Element, qualified_name: str | None = None) -> str:
    """An element's (or attribute's) JSON key: its local name when in no namespace or in the
    EPCIS one, ``v2v:<name>`` in the hub's, else ``prefix:name`` (the full IRI without one)."""
    tag = qualified_name if qualified_name is not None else el.tag
    assert isinstance(tag, str)
    if not tag.startswith("{"):
        return tag
    ns, _, name = tag[1:].partition("}")
    if ns in EPCIS_NAMESPACES or ns in QUERY_NAMESPACES:
        return name
    if ns == V2V_NS:
        return f"v2v:{name}"
    prefix = next((p for p, uri in el.nsmap.items() if uri == ns and p), None)
    return f"{prefix}:{name}" if prefix else ns + name


class _Reader:
    def __init__(self, partner: str) -> None:
        self.partner = partner

    def error(self, reason: str, field: str, code: str = "MALFORMED") -> NormalisationError:
        return NormalisationError(reason, partner=self.partner, field=field, code=code)

    def required(self, el: Element, path: str) -> Element:
        current = el
        for part in path.split("/"):
            found = _child(current, part)
            if found is None:
                field = f"{path_of(current)}/{part}"
                raise self.error(f"required element '{field}' is missing", field, "MISSING_FIELD")
            current = found
        return current

    def event_list(self, el: Element) -> list[dict[str, Any]]:
        events = []
        for c in _fields(el):
            if local_name(c) in EVENT_ELEMENTS or namespace(c) is not None:
                events.append(self.event(c))  # a namespaced element: an extension event type
            else:
                field = path_of(c)
                raise self.error(f"'{field}' is not an EPCIS event", field, "UNKNOWN_TYPE")
        return events

    def event(self, el: Element) -> dict[str, Any]:
        out: dict[str, Any] = {"type": local_name(el)}
        for c in _fields(el):
            key = _key(c)
            value = self.field(key, c)
            if value is None or c.get(_XSI_NIL) in ("true", "1"):
                continue
            if key in out:
                if key in _TEXT or namespace(c) is None:
                    field = path_of(c)
                    raise self.error(f"element '{field}' is repeated", field)
                previous = out[key]
                out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[key] = value
        return out

    def field(self, key: str, el: Element) -> Any:
        if key in _TEXT:
            return text_of(el)
        if key in _EPC_LISTS:
            return [text_of(c) or "" for c in _fields(el)]
        if key in _QUANTITY_LISTS:
            return [self.quantity(c) for c in _fields(el)]
        if key in ("readPoint", "bizLocation"):
            return self.generic(el)
        if key == "bizTransactionList":
            return [self.typed(c, "bizTransaction") for c in _fields(el)]
        if key in _PARTY_LISTS:
            return [self.typed(c, _PARTY_LISTS[key]) for c in _fields(el)]
        if key == "sensorElementList":
            return [self.sensor_element(c) for c in _fields(el)]
        if key == "persistentDisposition":
            found: dict[str, list[str]] = {}
            for c in _fields(el):
                found.setdefault(local_name(c), []).append(text_of(c) or "")
            return found
        if key == "errorDeclaration":
            out = self.generic(el)
            if isinstance(out, dict) and "correctiveEventIDs" in out:
                ids = _child(el, "correctiveEventIDs")
                out["correctiveEventIDs"] = (
                    [text_of(c) or "" for c in _fields(ids)] if ids is not None else []
                )
            return out
        return self.generic(el)

    def quantity(self, el: Element) -> dict[str, Any]:
        out = self.generic(el)
        if not isinstance(out, dict):
            return {}
        if isinstance(out.get("quantity"), str):
            out["quantity"] = self.number(out["quantity"], f"{path_of(el)}/quantity")
        return out

    def typed(self, el: Element, value_key: str) -> dict[str, Any]:
        out: dict[str, Any] = {value_key: text_of(el)}
        for name, value in el.attrib.items():
            out[_key(el, str(name))] = value
        return {k: v for k, v in out.items() if v is not None}

    def sensor_element(self, el: Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in _fields(el):
            key = _key(c)
            if key == "sensorMetadata":
                out[key] = self.attributes(c)
            elif key == "sensorReport":
                out.setdefault(key, []).append(self.attributes(c))
            else:
                out[key] = self.generic(c)
        return out

    def attributes(self, el: Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, raw in el.attrib.items():
            key, value = _key(el, str(name)), str(raw)
            if key in _NUMBERS:
                out[key] = self.number(value, f"{path_of(el)}/@{key}")
            elif key == "booleanValue":
                out[key] = value.strip() in ("true", "1")
            else:
                out[key] = value
        return out

    def number(self, raw: str, field: str) -> float:
        try:
            return float(raw)
        except ValueError as exc:
            raise self.error(f"'{field}' is not a number: {raw!r}", field) from exc

    def generic(self, el: Element) -> Any:
        """A leaf is its text; an element with children a dict of them (repeats: a list)."""
        if el.get(_XSI_NIL) in ("true", "1"):
            return None  # xsi:nil: the element says it has no value, as if absent
        kids = _fields(el)
        if not kids and not el.attrib:
            return text_of(el) or ""
        out: dict[str, Any] = {}
        for name, value in el.attrib.items():
            if name != _XSI_NIL:
                out["@" + _key(el, str(name))] = value
        for c in kids:
            key, value = _key(c), self.generic(c)
            if value is None:
                continue
            if key in out:
                previous = out[key]
                out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[key] = value
        if not kids and (text := text_of(el)) is not None:
            out["#text"] = text
        return out
