"""B2MML MaterialLot receipt (SyncMaterialLot and friends) -> receipt, identity check, custody.

A received material lot (the apheresis bag at the manufacturer) becomes:

* MATERIAL_RECEIVED always;
* IDENTITY_VERIFIED when the receipt records a label scan (``ScannedCOI`` / ``ScannedDIN``):
  expected (``COI`` / ``DIN`` properties, validated) against scanned (compared, never rejected:
  a mismatching scan is exactly what the hub must see);
* CUSTODY_ACCEPTED when an operator signed the acceptance (``AcceptedBy``); the handover id is
  the ``ShipmentID`` property (the courier's shipment), else the material lot ID.

Event ids are keyed by the material lot ID (one receipt per lot), with a fixed index per kind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from connectors.mes.b2mml import Document, nouns, properties, quantity, scope_id
from connectors.timestamps import parse_timestamp
from connectors.xmlsupport import Element, child, children, local_name, path_of, text_of
from hub.errors import InvalidIdentifierError
from hub.events.identifiers import parse_din
from hub.events.models import (
    Actor,
    CustodyDetail,
    Detail,
    Event,
    EventType,
    Identifiers,
    IdentityCheckDetail,
    Location,
    MaterialDetail,
)

LOT_NOUNS = ("MaterialLot", "MaterialInformation")
RECEIPT_STATUSES = frozenset({"RECEIVED", "ACCEPTED", "QUARANTINE"})
CHECKPOINT = "manufacturing_receipt"
_RECEIVED, _VERIFIED, _ACCEPTED = 0, 1, 2
_FAILED_RESULTS = frozenset({"FAIL", "FAILED", "MISMATCH", "FALSE", "NOK"})


def receipt_events(doc: Document, noun: str) -> list[Event]:
    """Events of every material lot in the message (bare, in a BOD, or in MaterialInformation)."""
    if noun == "MaterialInformation":
        infos = nouns(doc.root, noun, doc.f)
        lots = [lot for info in infos for lot in children(info, "MaterialLot")]
        if not lots:
            carried = sorted({local_name(c) for i in infos for c in i if isinstance(c.tag, str)})
            raise doc.f.error(
                "MaterialInformation carries no MaterialLot (only "
                f"{', '.join(carried) or 'nothing'}): material master data is not mapped",
                f"{path_of(infos[0])}/MaterialLot",
                "UNSUPPORTED_MESSAGE",
            )
    else:
        lots = nouns(doc.root, noun, doc.f)
    events: list[Event] = []
    for lot in lots:
        doc.identify(doc.f.req(lot, "ID"))
        events.extend(_lot(doc, lot))
    return events


def _scanned_coi(raw: str) -> str:
    return raw.strip().upper().removeprefix("&/")


def _scanned_din(raw: str) -> str:
    try:
        din = parse_din(raw)
    except InvalidIdentifierError:
        return raw.strip().upper()  # an unreadable scan is still evidence of a mismatch
    return f"={din.core}{din.flags or '00'}"


class _Props:
    """MaterialLotProperty values by upper-cased ID, with typed reads."""

    def __init__(self, doc: Document, lot: Element) -> None:
        self.doc = doc
        self.ids = doc.ids
        self.values = properties(lot, "MaterialLotProperty")

    def text(self, key: str) -> str | None:
        entry = self.values.get(key.upper())
        return entry.value if entry else None

    def where(self, key: str) -> str:
        entry = self.values.get(key.upper())
        return entry.field if entry else key

    def time(self, key: str) -> datetime | None:
        entry = self.values.get(key.upper())
        if entry is None:
            return None
        return parse_timestamp(entry.value, entry.field, self.doc.partner, self.doc.message_id)


def _lot(doc: Document, lot: Element) -> list[Event]:
    f = doc.f
    lot_id = f.req(lot, "ID")
    p = _Props(doc, lot)
    status = (f.text(lot, "Status") or "").upper()
    if status not in RECEIPT_STATUSES and p.text(p.ids.receipt_time) is None:
        raise f.error(
            f"material lot {lot_id} has status {status or 'none'!r} and no {p.ids.receipt_time} "
            "property: "
            f"not a receipt (receipt statuses: {', '.join(sorted(RECEIPT_STATUSES))})",
            f"{path_of(lot)}/Status",
            "UNSUPPORTED_LOT_STATUS",
        )
    coi = doc.coi(raw, p.where(p.ids.coi)) if (raw := p.text(p.ids.coi)) else None
    din = f.din(raw, p.where(p.ids.din)) if (raw := p.text(p.ids.din)) else None
    if coi is None and din is None:
        raise f.error(
            f"material lot {lot_id} carries neither a {p.ids.coi} nor a {p.ids.din} property",
            f"{path_of(lot)}/MaterialLotProperty",
            "MISSING_IDENTIFIER",
        )
    received_at = p.time(p.ids.receipt_time) or doc.created_at
    if received_at is None:
        raise f.error(
            f"material lot {lot_id}: no {p.ids.receipt_time} property and no ApplicationArea/"
            "CreationDateTime",
            p.where(p.ids.receipt_time),
            "MISSING_FIELD",
        )
    site = scope_id(lot) or doc.sender
    location = Location(id=site) if site else None
    shipment_id = p.text(p.ids.shipment_id)
    storage = _storage_location(lot)
    other = {"material_lot": lot_id}
    if storage:
        other["storage_location"] = storage
    identifiers = Identifiers(din=din, shipment_id=shipment_id, other=other)
    receiver = p.text(p.ids.received_by)
    amount, unit = quantity(lot, f)
    key = f"{lot_id}/receipt"
    shared = replace(doc.envelope, coi_id=coi, identifiers=identifiers, location=location)

    def make(
        index: int,
        event_type: EventType,
        detail: Detail,
        actor: Actor | None,
        biz_step: str,
        disposition: str,
    ) -> Event:
        envelope = replace(shared, actor=actor, biz_step=biz_step, disposition=disposition)
        return envelope.event(index, event_type, received_at, detail, key=key)

    material = MaterialDetail(
        material_type=f.text(lot, "MaterialDefinitionID") or "starting_material",
        quantity=amount,
        unit=unit,
        collection_end=p.time(p.ids.collection_end),
        expires_at=p.time(p.ids.expiration_date),
        container_id=lot_id,
    )
    receiver_actor = (
        Actor(id=receiver, role="operator", organisation=site)
        if receiver
        else doc.system_actor(site)
    )
    events = [
        make(
            _RECEIVED,
            EventType.MATERIAL_RECEIVED,
            material,
            receiver_actor,
            "receiving",
            "in_progress",
        )
    ]
    check = _identity_check(p, coi, din, receiver)
    if check is not None:
        verifier = check.verified_by
        events.append(
            make(
                _VERIFIED,
                EventType.IDENTITY_VERIFIED,
                check,
                Actor(id=verifier, role="operator", organisation=site) if verifier else None,
                "inspecting",
                "conformant" if check.matched else "non_conformant",
            )
        )
    accepted_by = p.text(p.ids.accepted_by)
    if accepted_by is not None:
        custody = CustodyDetail(
            handover_id=shipment_id or lot_id,
            releasing_party=p.text(p.ids.carrier),
            receiving_party=site,
            verified_by=accepted_by,
            identity_scanned=check is not None,
            signature=p.text(p.ids.signature),
        )
        events.append(
            make(
                _ACCEPTED,
                EventType.CUSTODY_ACCEPTED,
                custody,
                Actor(id=accepted_by, role="receiver", organisation=site),
                "accepting",
                "in_progress",
            )
        )
    return events


def _storage_location(lot: Element) -> str | None:
    """``StorageLocation`` text (before V07) or ``StorageLocation/Location`` (V07)."""
    storage = child(lot, "StorageLocation")
    if storage is None:
        return None
    return text_of(child(storage, "Location")) or text_of(storage)


def _identity_check(
    p: _Props, coi: str | None, din: str | None, receiver: str | None
) -> IdentityCheckDetail | None:
    """Expected (label / order) against scanned; matched only if every scanned id has an
    expected counterpart that equals it and the MES's own verdict is not a failure."""
    scanned: dict[str, str] = {}
    if (raw := p.text(p.ids.scanned_coi)) is not None:
        scanned["coi"] = _scanned_coi(raw)
    if (raw := p.text(p.ids.scanned_din)) is not None:
        scanned["din"] = _scanned_din(raw)
    if not scanned:
        return None
    expected = {k: v for k, v in (("coi", coi), ("din", din)) if v is not None}
    verdict = (p.text(p.ids.identity_check_result) or "").upper()
    matched = (
        all(expected.get(k) == v for k, v in scanned.items()) and verdict not in _FAILED_RESULTS
    )
    return IdentityCheckDetail(
        checkpoint=CHECKPOINT,
        expected=expected,
        scanned=scanned,
        matched=matched,
        verified_by=p.text(p.ids.verified_by) or receiver,
    )
