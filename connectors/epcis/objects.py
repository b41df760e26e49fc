"""The "what" of an EPCIS event: its EPCs, quantities, business transactions, parties, the hub's
own extension fields (COI, DIN, batch, material type) and everything else kept aside.

Hub extension fields live in the namespace ``https://v2v-hub.org/epcis/``; the prefix ``v2v``
always means it, and any other prefix the document's ``@context`` binds to it works too
(``"v2v:coi"``, ``"cti:coi"`` with ``{"cti": "https://v2v-hub.org/epcis/"}``, or the full IRI).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.epcis.vocabulary import cbv_term
from connectors.jsonreader import JsonReader, canonical_json, join
from hub.errors import NormalisationError
from hub.events.identifiers import parse_din, validate_coi
from hub.events.models import Identifiers

V2V_NS = "https://v2v-hub.org/epcis/"
V2V_FIELDS = frozenset({"coi", "din", "batch", "materialType"})

# Every key the EPCIS 2.0 JSON schema defines on an event; any other key is an extension.
CORE_KEYS = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
        "action",
        "epcList",
        "quantityList",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "ilmd",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
    }
)
_EPC_LISTS = (
    ("epcList", "epc"),
    ("childEPCs", "child_epc"),
    ("inputEPCList", "input_epc"),
    ("outputEPCList", "output_epc"),
)
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_SHIPMENT_TRANSACTIONS = ("desadv", "bol")
_LGTIN_LOT = re.compile(r"^urn:epc:class:lgtin:[^.]+\.[^.]+\.(.+)$|/10/([^/?#]+)")
_SSCC = re.compile(r"^urn:epc:id:sscc:|/00/\d{18}$")


def v2v_prefixes(*contexts: Any) -> frozenset[str]:
    """Prefixes bound to the hub namespace in JSON-LD ``@context`` values (plus ``v2v``)."""
    prefixes = {"v2v"}
    for context in contexts:
        for item in context if isinstance(context, list) else [context]:
            if not isinstance(item, dict):
                continue
            for prefix, iri in item.items():
                target = iri.get("@id") if isinstance(iri, dict) else iri
                if target == V2V_NS:
                    prefixes.add(prefix)
    return frozenset(prefixes)


def v2v_field(key: str, prefixes: frozenset[str]) -> str | None:
    """The hub field a key names (``coi`` for ``v2v:coi``), or None."""
    if key.startswith(V2V_NS):
        local = key[len(V2V_NS) :]
    else:
        prefix, sep, local = key.partition(":")
        if not sep or prefix not in prefixes:
            return None
    return local if local in V2V_FIELDS else None


@dataclass(frozen=True)
class Party:
    type: str
    id: str


@dataclass(frozen=True)
class What:
    """Everything an event says about objects and parties, ready for the canonical event."""

    identifiers: Identifiers
    coi: str | None
    epcs: tuple[str, ...]
    sources: tuple[Party, ...]
    destinations: tuple[Party, ...]
    material_type: str | None
    quantity: tuple[float, str | None] | None

    def party(self, side: str) -> str | None:
        """The possessing (else owning) party on the ``source`` or ``destination`` side."""
        parties = self.sources if side == "source" else self.destinations
        for kind in ("possessing_party", "owning_party"):
            for party in parties:
                if party.type == kind:
                    return party.id
        return None


def describe(
    event: dict[str, Any], path: str, r: JsonReader, prefixes: frozenset[str], coi_pattern: str
) -> What:
    other: dict[str, str] = {}
    epcs: list[str] = []
    for key, name in _EPC_LISTS:
        values = r.strings(event, key, path)
        if values:
            other[name] = canonical_json(values)
            epcs.extend(values)
    parent = r.text(event, "parentID", path)
    if parent:
        other["parent_id"] = parent
        epcs.append(parent)
    transformation = r.text(event, "transformationID", path)
    if transformation:
        other["transformation_id"] = transformation

    classes, quantities = _quantities(event, path, r)
    if classes:
        other["epc_class"] = canonical_json(classes)
    transactions = _transactions(event, path, r, prefixes)
    if transactions:
        other["biz_transactions"] = canonical_json([[t, v] for t, v, _ in transactions])
    sources = _parties(event, "sourceList", "source", path, r)
    destinations = _parties(event, "destinationList", "destination", path, r)
    if sources:
        other["source_list"] = canonical_json([[p.type, p.id] for p in sources])
    if destinations:
        other["destination_list"] = canonical_json([[p.type, p.id] for p in destinations])

    hub = _hub_fields(event, path, r, prefixes, other)
    coi = _coi(hub, transactions, r, coi_pattern)
    din = _agreed(hub.get("din", []), "DIN", _din, r)
    lots = {m.group(1) or m.group(2) for c in classes if (m := _LGTIN_LOT.search(c))}
    batch = _agreed(hub.get("batch", []), "batch", str, r) or (
        lots.pop() if len(lots) == 1 else None
    )
    shipment = next((v for t, v, _ in transactions if t in _SHIPMENT_TRANSACTIONS), None)
    if shipment is None and parent and _SSCC.search(parent):
        shipment = parent
    identifiers = Identifiers(
        din=din,
        batch_id=batch,
        shipment_id=shipment,
        order_id=next((v for t, v, _ in transactions if t == "po"), None),
        other=other,
    )
    return What(
        identifiers=identifiers,
        coi=coi,
        epcs=tuple(dict.fromkeys(epcs)),
        sources=sources,
        destinations=destinations,
        material_type=_agreed(hub.get("materialType", []), "material type", str, r),
        quantity=quantities[0] if len(quantities) == 1 else None,
    )


def _quantities(
    event: dict[str, Any], path: str, r: JsonReader
) -> tuple[list[str], list[tuple[float, str | None]]]:
    classes: list[str] = []
    quantities: list[tuple[float, str | None]] = []
    for key in _QUANTITY_LISTS:
        for item_path, item in r.objects(event, key, path):
            classes.append(r.req(item, "epcClass", item_path))
            amount = r.number(item, "quantity", item_path)
            if amount is not None:
                quantities.append((amount, r.text(item, "uom", item_path)))
    return classes, quantities


def _transactions(
    event: dict[str, Any], path: str, r: JsonReader, prefixes: frozenset[str]
) -> list[tuple[str, str, str]]:
    """(type, value, path); the type as its CBV short word, the hub's COI type as ``coi``."""
    out: list[tuple[str, str, str]] = []
    for item_path, item in r.objects(event, "bizTransactionList", path):
        value = r.req(item, "bizTransaction", item_path)
        kind = r.text(item, "type", item_path) or ""
        if v2v_field(kind, prefixes) == "coi":
            kind = "coi"
        out.append((cbv_term(kind, "btt"), value, join(item_path, "bizTransaction")))
    return out


def _parties(
    event: dict[str, Any], key: str, value_key: str, path: str, r: JsonReader
) -> tuple[Party, ...]:
    parties: list[Party] = []
    for item_path, item in r.objects(event, key, path):
        kind = r.req(item, "type", item_path)
        parties.append(Party(cbv_term(kind, "sdt"), r.req(item, value_key, item_path)))
    return tuple(parties)


def _hub_fields(
    event: dict[str, Any],
    path: str,
    r: JsonReader,
    prefixes: frozenset[str],
    other: dict[str, str],
) -> dict[str, list[tuple[str, Any]]]:
    """Hub extension fields (event level and ILMD) as field -> [(path, value)]; every other
    extension key and the rest of the ILMD are kept aside as compact JSON."""
    found: dict[str, list[tuple[str, Any]]] = {}
    extensions: dict[str, Any] = {}
    for key, value in event.items():
        if key in CORE_KEYS:
            continue
        name = v2v_field(key, prefixes)
        if name is None:
            extensions[key] = value
        else:
            found.setdefault(name, []).append((join(path, key), value))
    ilmd = r.obj(event, "ilmd", path)
    if ilmd:
        rest: dict[str, Any] = {}
        for key, value in ilmd.items():
            name = v2v_field(key, prefixes)
            if name is None:
                rest[key] = value
            else:
                found.setdefault(name, []).append((join(join(path, "ilmd"), key), value))
        if rest:
            other["ilmd"] = canonical_json(rest)
    if extensions:
        other["epcis_extensions"] = canonical_json(extensions)
    return found


def _agreed(
    candidates: list[tuple[str, Any]],
    label: str,
    clean: Callable[[str], str],
    r: JsonReader,
) -> str | None:
    """The one value all ``candidates`` agree on (after ``clean``), or None if there are none;
    disagreement is ``<LABEL>_CONFLICT``, a value ``clean`` refuses keeps its own error."""
    values: dict[str, str] = {}
    for where, raw in candidates:
        if not isinstance(raw, str) or not raw.strip():
            raise r.error(f"'{where}' must be a non-empty string", where)
        try:
            values.setdefault(clean(raw.strip()), where)
        except NormalisationError as exc:
            raise type(exc)(
                exc.reason, partner=r.partner, message_id=r.message_id, field=where, code=exc.code
            ) from exc
    if len(values) > 1:
        raise NormalisationError(
            f"event names more than one {label}: {', '.join(sorted(values))}",
            partner=r.partner,
            message_id=r.message_id,
            field=", ".join(sorted(set(values.values()))),
            code=f"{label.upper().replace(' ', '_')}_CONFLICT",
        )
    return next(iter(values), None)


def _coi(
    hub: dict[str, list[tuple[str, Any]]],
    transactions: list[tuple[str, str, str]],
    r: JsonReader,
    pattern: str,
) -> str | None:
    candidates = list(hub.get("coi", []))
    for kind, value, where in transactions:
        if kind == "coi":
            # The transaction value is a URI whose last segment is the COI (urn:v2v-hub:coi:X).
            candidates.append((where, re.split(r"[:/]", value)[-1]))
    return _agreed(candidates, "COI", lambda raw: validate_coi(raw, pattern), r)


def _din(raw: str) -> str:
    din = parse_din(raw)
    return f"={din.core}{din.flags or '00'}"
