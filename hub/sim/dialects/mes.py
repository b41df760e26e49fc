"""MES messages in ISA-95 B2MML: material lot receipt and production performance."""

from __future__ import annotations

from datetime import timedelta

from hub.sim.dialects.common import iso, xml
from hub.sim.facts import MesPerformance, MesReceipt, MesSegment

_NS = "http://www.mesa.org/xml/B2MML-V0600"


def _prop(tag: str, key: str, value: str, indent: str) -> str:
    inner = f"<ID>{key}</ID><Value><ValueString>{xml(value)}</ValueString></Value>"
    return f"{indent}<{tag}>{inner}</{tag}>"


def _bod(verb: str, sender: str, created: str, bod: str, body: str) -> bytes:
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<{verb} xmlns="{_NS}" releaseID="6.0">
  <ApplicationArea>
    <Sender><LogicalID>{xml(sender)}</LogicalID></Sender>
    <CreationDateTime>{created}</CreationDateTime>
    <BODID>{xml(bod)}</BODID>
  </ApplicationArea>
  <DataArea>
{body}
  </DataArea>
</{verb}>
"""
    return text.encode("utf-8")


def receipt(f: MesReceipt) -> bytes:
    z = f.zone
    props = [
        ("COI", f.coi),
        *([("DIN", f.din)] if f.din else []),
        ("CollectionEnd", iso(f.collection_end, z)),
        ("ReceiptTime", iso(f.receipt, z)),
        ("ReceivedBy", f.received_by),
        ("ScannedCOI", f.scanned_coi),
        *([("ScannedDIN", f.scanned_din)] if f.scanned_din else []),
        ("IdentityCheckResult", f.check_result),
        ("VerifiedBy", f.verified_by),
        ("ShipmentID", f.shipment_id),
        ("Carrier", f.carrier),
        *([("AcceptedBy", f.accepted_by)] if f.accepted_by else []),
    ]
    lines = "\n".join(_prop("MaterialLotProperty", k, v, "      ") for k, v in props)
    action = '<ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria>'
    body = f"""    <Sync>{action}</Sync>
    <MaterialLot>
      <ID>{xml(f.lot_id)}</ID>
      <Description>Leukapheresis bag, fresh, 2-8 C</Description>
      <MaterialDefinitionID>APHERESIS-LEUKOPAK</MaterialDefinitionID>
      <Status>{"Received" if f.check_result == "Pass" else "Quarantine"}</Status>
      <HierarchyScope><EquipmentID>{xml(f.site)}</EquipmentID></HierarchyScope>
      <StorageLocation>{xml(f.site)}-RECEIVING-2</StorageLocation>
      <Quantity><QuantityString>{f.volume_ml}</QuantityString><UnitOfMeasure>mL</UnitOfMeasure></Quantity>
{lines}
    </MaterialLot>"""
    created = iso(f.received - timedelta(minutes=2), z)
    return _bod("SyncMaterialLot", f.sender, created, f.bod, body)


def _segment(f: MesPerformance, s: MesSegment, first: bool, last: bool) -> str:
    z, pad = f.zone, "          "
    done = s.end is not None and s.end <= f.published
    lines = [
        "        <SegmentResponse>",
        f"{pad}<ID>{s.seg_id}</ID>",
        f"{pad}<ProcessSegmentID>{s.process}</ProcessSegmentID>",
        f"{pad}<ActualStartTime>{iso(s.start, z)}</ActualStartTime>",
    ]
    if done and s.end is not None:
        lines.append(f"{pad}<ActualEndTime>{iso(s.end, z)}</ActualEndTime>")
    lines.append(f"{pad}<SegmentState>{'Completed' if done else 'Running'}</SegmentState>")
    lines.append(f"{pad}<PersonnelActual><PersonID>{s.person}</PersonID></PersonnelActual>")
    lines.append(
        f"{pad}<EquipmentActual><EquipmentID>{s.equipment}</EquipmentID></EquipmentActual>"
    )
    inner = pad + "  "
    if first:
        lines += [
            f"{pad}<MaterialActual>",
            f"{inner}<MaterialDefinitionID>APHERESIS-LEUKOPAK</MaterialDefinitionID>",
            f"{inner}<MaterialUse>Consumed</MaterialUse>",
            _prop("MaterialActualProperty", "COI", f.coi, inner),
            *([_prop("MaterialActualProperty", "DIN", f.din, inner)] if f.din else []),
            f"{pad}</MaterialActual>",
            f"{pad}<MaterialActual>",
            f"{inner}<MaterialDefinitionID>CART-01</MaterialDefinitionID>",
            f"{inner}<MaterialLotID>{f.batch}</MaterialLotID>",
            f"{inner}<MaterialUse>Produced</MaterialUse>",
            f"{pad}</MaterialActual>",
        ]
    if last and done:
        lines += [
            f"{pad}<MaterialActual>",
            f"{inner}<MaterialDefinitionID>CART-01</MaterialDefinitionID>",
            f"{inner}<MaterialLotID>{f.batch}</MaterialLotID>",
            f"{inner}<MaterialSubLotID>{f.bag_id}</MaterialSubLotID>",
            f"{inner}<MaterialUse>Produced</MaterialUse>",
            f"{inner}<Quantity><QuantityString>{f.volume_ml}</QuantityString>"
            "<UnitOfMeasure>mL</UnitOfMeasure></Quantity>",
            _prop("MaterialActualProperty", "COI", f.coi, inner),
            _prop("MaterialActualProperty", "ExpirationDate", iso(f.expiry, z), inner),
            f"{pad}</MaterialActual>",
        ]
    lines.append("        </SegmentResponse>")
    return "\n".join(lines)


def performance(f: MesPerformance) -> bytes:
    z = f.zone
    shown = [s for s in f.segments if s.start <= f.published]
    segs = "\n".join(_segment(f, s, i == 0, s is f.segments[-1]) for i, s in enumerate(shown))
    end = f"\n        <EndTime>{iso(f.end, z)}</EndTime>" if f.end is not None else ""
    action = '<ActionCriteria><ActionExpression actionCode="Add"/></ActionCriteria>'
    body = f"""    <Process>{action}</Process>
    <ProductionPerformance>
      <ID>{f.perf_id}</ID>
      <HierarchyScope><EquipmentID>{xml(f.site)}</EquipmentID></HierarchyScope>
      <PublishedDate>{iso(f.published, z)}</PublishedDate>
      <ProductionResponse>
        <ID>{f.response_id}</ID>
        <ProductionRequestID>{f.order_id}</ProductionRequestID>
        <StartTime>{iso(f.start, z)}</StartTime>{end}
        <ResponseState>{f.state}</ResponseState>
{segs}
      </ProductionResponse>
    </ProductionPerformance>"""
    return _bod("ProcessProductionPerformance", f.sender, iso(f.published, z), f.bod, body)
