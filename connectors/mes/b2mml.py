"""ISA-95 B2MML document helpers: nouns, properties, quantities, event factory.

B2MML comes as a verb-noun BOD (``<ProcessProductionPerformance>`` with ``ApplicationArea`` and
``DataArea``) or as a bare noun (``<ProductionPerformance>``), in any namespace
:mod:`connectors.mes.dialect` accepts, with or without a prefix. Lookups go by local name
(:mod:`connectors.xmlsupport`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from connectors.base import Envelope
from connectors.mes.config import PropertyIds
from connectors.xmlsupport import (
    Element,
    XmlFields,
    child,
    children,
    find,
    local_name,
    path_of,
    text_of,
)
from hub.events.models import Actor


def nouns(root: Element, noun: str, f: XmlFields) -> list[Element]:
    """The noun elements of a BOD (``DataArea/<noun>``) or the root itself when it is the noun."""
    if local_name(root) == noun:
        return [root]
    data_area = f.element(root, "DataArea")
    found = children(data_area, noun)
    if not found:
        raise f.missing(data_area, noun)
    return found


def first_child(el: Element, *names: str) -> Element | None:
    """The first child named ``names[0]``, else ``names[1]``, ... (a B2MML element renamed
    between releases, e.g. ``ProductionRequestID`` / ``OperationsRequestID``)."""
    for name in names:
        found = child(el, name)
        if found is not None:
            return found
    return None


def property_value(prop: Element) -> str | None:
    """``<Value><ValueString>x</ValueString></Value>`` (V0600+) or ``<Value>x</Value>``."""
    value = child(prop, "Value")
    if value is None:
        return None
    return text_of(child(value, "ValueString")) or text_of(value)


class Property(NamedTuple):
    """One ``*Property`` value; ``field`` (its element path) is built only when reported."""

    key: str
    value: str
    element: Element

    @property
    def field(self) -> str:
        return f"{path_of(self.element)}[ID={self.key}]/Value"


def properties(el: Element, tag: str) -> dict[str, Property]:
    """``{ID upper-cased: Property}`` of the ``tag`` property children of ``el``; properties
    without ID or value are skipped, the first of a repeated ID wins."""
    found: dict[str, Property] = {}
    for prop in children(el, tag):
        key = text_of(child(prop, "ID"))
        value = property_value(prop)
        if key is not None and value is not None:
            found.setdefault(key.upper(), Property(key, value, prop))
    return found


def scope_id(*elements: Element | None) -> str | None:
    """The first ``HierarchyScope/EquipmentID`` (or older ``Location/EquipmentID``) found."""
    for el in elements:
        if el is None:
            continue
        for path in ("HierarchyScope/EquipmentID", "Location/EquipmentID"):
            value = text_of(find(el, path))
            if value is not None:
                return value
    return None


def quantity(el: Element, f: XmlFields) -> tuple[float | None, str | None]:
    """``Quantity/QuantityString`` as a finite number and ``Quantity/UnitOfMeasure``."""
    q = child(el, "Quantity")
    if q is None:
        return None, None
    text = text_of(child(q, "QuantityString")) or text_of(q)
    unit = text_of(child(q, "UnitOfMeasure"))
    if text is None:
        return None, unit
    try:
        number = float(text)
    except ValueError as exc:
        raise f.error(f"quantity {text!r} is not a number", path_of(q), "MALFORMED") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise f.error(f"quantity {text!r} is not finite", path_of(q), "MALFORMED")
    return number, unit


@dataclass
class Document:
    """One B2MML message: who sent it and the factory for its events."""

    partner: str
    system: str
    received_at: datetime
    root: Element
    f: XmlFields
    coi_pattern: str
    ids: PropertyIds
    message_id: str = ""
    sender: str | None = None
    created_at: datetime | None = None
    _envelope: Envelope | None = field(default=None, repr=False)

    @classmethod
    def read(
        cls,
        partner: str,
        system: str,
        received_at: datetime,
        root: Element,
        coi_pattern: str,
        ids: PropertyIds,
    ) -> Document:
        f = XmlFields(partner)
        area = child(root, "ApplicationArea")
        doc = cls(partner, system, received_at, root, f, coi_pattern, ids)
        if area is not None:
            doc.sender = text_of(find(area, "Sender/LogicalID"))
            doc.message_id = text_of(child(area, "BODID")) or ""
            f.message_id = doc.message_id or None
            doc.created_at = f.time(area, "CreationDateTime")
        return doc

    def identify(self, message_id: str) -> None:
        """Set the message id (the noun's B2MML ID unless the BOD had a BODID)."""
        if not self.message_id:
            self.message_id = message_id
            self.f.message_id = message_id
        self._envelope = None

    @property
    def envelope(self) -> Envelope:
        """The message's envelope; event keys are business objects (a segment response, a
        material lot), so a cumulative or re-sent report of the same fact keeps its event id."""
        if self._envelope is None:
            self._envelope = Envelope.of(
                self.partner, self.system, self.message_id, self.received_at
            )
        return self._envelope

    def coi(self, raw: str, where: str) -> str:
        return self.f.coi(raw, where, self.coi_pattern)

    def system_actor(self, organisation: str | None) -> Actor | None:
        if self.sender is None:
            return None
        return Actor(id=self.sender, role="system", organisation=organisation)
