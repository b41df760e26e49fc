"""IDoc message types the hub reads: LOIPRO (process order), BATMAS (batch), DESADV (delivery).

Each mapper turns one IDoc into canonical events; event ids come from (``sap``, ``DOCNUM``,
index), so a re-delivered IDoc yields the same ids. Field-level mapping: README.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from connectors.sap.idoc import EXTENSION_SEGMENT, IdocContext, Mapper, alpha_out
from connectors.xmlsupport import Element, child, children, descendants, path_of, text_of
from hub.events.models import (
    CustodyDetail,
    Event,
    EventType,
    Identifiers,
    LinkDetail,
    Location,
    ScheduleDetail,
    ShipmentDetail,
)

# Z1V2VHUB-AKTYP, SAP's activity category: H = create (Hinzufuegen), V = change (Veraendern).
_CREATE, _CHANGE = "H", "V"
# E1EDT13-QUALF deadline qualifiers used here.
_GOODS_ISSUE, _DELIVERY = "006", "007"


def loipro(ctx: IdocContext) -> list[Event]:
    """Process order: create -> THERAPY_ORDERED + SLOT_BOOKED, change -> SLOT_RESCHEDULED."""
    header = ctx.segment(ctx.idoc, "E1AFKOL")
    order_id = alpha_out(ctx.f.req(header, "AUFNR"))
    coi = ctx.require_coi(ctx.ext_coi(), f"{EXTENSION_SEGMENT}/COI")
    action = (ctx.ext_text("AKTYP") or _CREATE).upper()
    if action not in (_CREATE, _CHANGE):
        raise ctx.error(
            f"{EXTENSION_SEGMENT}/AKTYP {action!r} is not H (create) or V (change)",
            f"{EXTENSION_SEGMENT}/AKTYP",
            "MALFORMED",
        )
    # Scheduled dates (after capacity planning) win over the basic dates of the order.
    if text_of(child(header, "GSTRS")) is not None:
        start = ctx.local(header, "GSTRS", "GSUZS", required=True)
        end = ctx.local(header, "GLTRS", "GLUZS")
    else:
        start = ctx.local(header, "GSTRP", "GSUZP", required=True)
        end = ctx.local(header, "GLTRP", "GLUZP")
    if start is not None and end is not None and end < start:
        raise ctx.error(
            f"process order {order_id} finishes ({end.isoformat()}) before it starts "
            f"({start.isoformat()})",
            f"{path_of(header)}/GLTRS",
            "INCONSISTENT_DATES",
        )
    plant = ctx.f.text(header, "WERKS")
    material = ctx.f.text(header, "MATNR")
    profile = ctx.ext_text("PROFILE") or (alpha_out(material) if material else None)
    batch = next(
        (b for item in children(header, "E1AFPOL") if (b := ctx.f.text(item, "CHARG"))), None
    )
    identifiers = Identifiers(
        order_id=order_id,
        batch_id=batch,
        other={"material": alpha_out(material)} if material else {},
    )
    location = Location(id=plant) if plant else None
    actor = ctx.actor("production_planner", plant)
    occurred_at = ctx.created_at()
    slot = ScheduleDetail(
        product_profile=profile,
        slot_id=order_id,
        slot_start=start,
        slot_end=end,
        manufacturing_site=plant,
        reason=ctx.ext_text("CHGRSN") if action == _CHANGE else None,
    )

    envelope = replace(
        ctx.envelope, coi_id=coi, identifiers=identifiers, actor=actor, location=location
    )

    def make(index: int, event_type: EventType, detail: ScheduleDetail) -> Event:
        return envelope.event(index, event_type, occurred_at, detail)

    if action == _CHANGE:
        return [make(0, EventType.SLOT_RESCHEDULED, slot)]
    assert ctx.ext is not None  # a COI was read from it
    order = slot.model_copy(
        update={
            "planned_ship_at": ctx.local(ctx.ext, "PSHDAT", "PSHTIM"),
            "planned_infusion_at": ctx.local(ctx.ext, "PINDAT", "PINTIM"),
            "treatment_site": ctx.ext_text("TRTSITE"),
        }
    )
    return [make(0, EventType.THERAPY_ORDERED, order), make(1, EventType.SLOT_BOOKED, slot)]


def batmas(ctx: IdocContext) -> list[Event]:
    """Batch master: IDENTIFIER_LINKED (batch -> COI). The COI is the batch characteristic
    ``COI`` (classification) or ``Z1V2VHUB/COI``; both present must agree."""
    header = ctx.segment(ctx.idoc, "E1BATMAS")
    batch = ctx.f.req(header, "BATCH")
    material = ctx.f.text(header, "MATERIAL")
    plant = ctx.f.text(header, "PLANT")
    coi = ctx.ext_coi()
    for value in descendants(header, "E1BP3060_VALUATION_CHAR"):
        if (text_of(child(value, "CHARACT")) or "").upper() != "COI":
            continue
        field = f"{path_of(value)}/VALUE_CHAR"
        raw = text_of(child(value, "VALUE_CHAR"))
        if raw is None:
            raise ctx.error("batch characteristic COI has no value", field, "MISSING_FIELD")
        characteristic = ctx.f.coi(raw, field, ctx.coi_pattern)
        if coi is not None and coi != characteristic:
            raise ctx.error(
                f"batch {batch}: characteristic COI {characteristic} contradicts "
                f"{EXTENSION_SEGMENT}/COI {coi}",
                field,
                "COI_CONFLICT",
            )
        coi = characteristic
    coi = ctx.require_coi(coi, "E1BP3060_VALUATION_CHAR[CHARACT=COI]")
    other = {"material": alpha_out(material)} if material else {}
    attributes = child(header, "E1BPBATCHATT")
    if attributes is not None:
        # The label's expiry is a calendar date; it stays one (no zone, no time of day).
        field = f"{path_of(attributes)}/EXPIRYDATE"
        expiry = ctx.times.parse_date(ctx.f.text(attributes, "EXPIRYDATE"), field)
        if expiry is not None:
            other["expiry_date"] = expiry.isoformat()
    created = ctx.created_at()
    envelope = replace(
        ctx.envelope,
        coi_id=coi,
        identifiers=Identifiers(batch_id=batch, other=other),
        actor=ctx.actor("batch_management", plant),
        location=Location(id=plant) if plant else None,
        biz_step="commissioning",
    )
    link = LinkDetail(id_kind="batch_id", id_value=batch)
    return [envelope.event(0, EventType.IDENTIFIER_LINKED, created, link)]


def _partner(ctx: IdocContext, header: Element, qualifier: str) -> str | None:
    """Name (or number) of the ``E1ADRM1`` partner with ``PARTNER_Q`` = ``qualifier``."""
    for seg in children(header, "E1ADRM1"):
        if ctx.f.text(seg, "PARTNER_Q") == qualifier:
            name = ctx.f.text(seg, "NAME1")
            number = ctx.f.text(seg, "PARTNER_ID")
            return name or (alpha_out(number) if number else None)
    return None


def _deadline(ctx: IdocContext, header: Element, qualifier: str) -> Element | None:
    for seg in children(header, "E1EDT13"):
        if ctx.f.text(seg, "QUALF") == qualifier:
            return seg
    return None


def _deadline_time(ctx: IdocContext, seg: Element | None, actual: bool) -> datetime | None:
    """Actual (``ISDD``/``ISDZ``) or planned (``NTANF``/``NTANZ``) start of a deadline, in the
    segment's own ``TZONE_BEG`` when given, else the IDoc's ``TZONE``."""
    if seg is None:
        return None
    tz = ctx.f.text(seg, "TZONE_BEG")
    zone = ctx.times.zone(tz, f"{path_of(seg)}/TZONE_BEG") if tz else None
    if actual:
        return ctx.local(seg, "ISDD", "ISDZ", zone=zone)
    return ctx.local(seg, "NTANF", "NTANZ", zone=zone)


def desadv(ctx: IdocContext) -> list[Event]:
    """Outbound delivery. Goods issue posted -> CUSTODY_RELEASED + SHIPMENT_DEPARTED; not yet
    posted (an advance notice) -> SHIPMENT_STATUS(ANNOUNCED) with the planned delivery as ETA."""
    header = ctx.segment(ctx.idoc, "E1EDL20")
    delivery = alpha_out(ctx.f.req(header, "VBELN"))
    items = children(header, "E1EDL24")
    if not items:
        raise ctx.error(
            f"delivery {delivery} has no item segment E1EDL24",
            f"{path_of(header)}/E1EDL24",
            "MISSING_SEGMENT",
        )
    batches = sorted({b for item in items if (b := ctx.f.text(item, "CHARG"))})
    if len(batches) > 1:
        raise ctx.error(
            f"delivery {delivery} carries batches {', '.join(batches)}; an autologous "
            "delivery carries exactly one patient batch",
            f"{path_of(header)}/E1EDL24/CHARG",
            "MULTIPLE_BATCHES",
        )
    batch = batches[0] if batches else None
    coi = ctx.ext_coi()
    if coi is None and batch is None:
        raise ctx.error(
            f"delivery {delivery} names neither a COI ({EXTENSION_SEGMENT}/COI) nor a batch "
            "(E1EDL24/CHARG)",
            f"{EXTENSION_SEGMENT}/COI",
            "MISSING_IDENTIFIER",
        )
    bill_of_lading = ctx.f.text(header, "BOLNR")
    shipment_id = bill_of_lading or delivery
    material = ctx.f.text(items[0], "MATNR")
    other = {"delivery": delivery}
    if material:
        other["material"] = alpha_out(material)
    identifiers = Identifiers(shipment_id=shipment_id, batch_id=batch, other=other)
    shipping_point = ctx.f.text(header, "VSTEL") or ctx.f.text(items[0], "WERKS")
    ship_from = _partner(ctx, header, "OSP") or shipping_point
    ship_to = _partner(ctx, header, "WE")
    carrier = _partner(ctx, header, "SP")
    lane = ctx.f.text(header, "ROUTE")
    location = Location(id=shipping_point) if shipping_point else None
    actor = ctx.actor("shipping", ship_from)
    goods_issue = _deadline_time(ctx, _deadline(ctx, header, _GOODS_ISSUE), actual=True)
    eta = _deadline_time(ctx, _deadline(ctx, header, _DELIVERY), actual=False)
    shared = replace(
        ctx.envelope, coi_id=coi, identifiers=identifiers, actor=actor, location=location
    )

    def make(
        index: int,
        event_type: EventType,
        occurred_at: datetime,
        detail: CustodyDetail | ShipmentDetail,
        biz_step: str,
        disposition: str,
    ) -> Event:
        envelope = replace(shared, biz_step=biz_step, disposition=disposition)
        return envelope.event(index, event_type, occurred_at, detail)

    if goods_issue is None:
        notice = ShipmentDetail(status="ANNOUNCED", carrier=carrier, lane=lane, eta=eta)
        created = ctx.created_at()
        return [make(0, EventType.SHIPMENT_STATUS, created, notice, "shipping", "in_progress")]
    release = CustodyDetail(
        handover_id=shipment_id,
        releasing_party=ship_from,
        receiving_party=ship_to,
        lane=lane,
        verified_by=ctx.ext_text("USNAM"),
    )
    departed = ShipmentDetail(status="DEPARTED", carrier=carrier, lane=lane, eta=eta)
    return [
        make(0, EventType.CUSTODY_RELEASED, goods_issue, release, "shipping", "in_transit"),
        make(1, EventType.SHIPMENT_DEPARTED, goods_issue, departed, "departing", "in_transit"),
    ]


# MESTYP -> (accepted basic IDoc types, mapper). DESADV travels in the DELVRY basic types.
MAPPERS: dict[str, tuple[tuple[str, ...], Mapper]] = {
    "LOIPRO": (("LOIPRO",), loipro),
    "BATMAS": (("BATMAS",), batmas),
    "DESADV": (("DELVRY",), desadv),
}
