"""SAP ERP: IDoc XML (LOIPRO, BATMAS, DESADV) and the OData usage decision (JSON).

IDoc dates and times are local to the plant, named by ``Z1V2VHUB-TZONE`` with SAP's own zone
code; an IDoc whose local times would fall in the repeated autumn hour is written in UTC
instead (the connector rightly refuses an ambiguous local time).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.sim.dialects.common import ambiguous, local, to_json, xml
from hub.sim.facts import SapBatch, SapDelivery, SapOrder, SapUsageDecision

_SAP_ZONE = {
    "America/New_York": "EST",
    "America/Chicago": "CST",
    "Europe/Amsterdam": "CET",
    "UTC": "UTC",
}


class _Clock:
    """SAP date (YYYYMMDD) and time (HHMMSS) fields in one zone for one IDoc."""

    def __init__(self, zone: str, *times: datetime) -> None:
        self.zone = "UTC" if any(ambiguous(t, zone) for t in times) else zone

    @property
    def code(self) -> str:
        return _SAP_ZONE[self.zone]

    def date(self, at: datetime) -> str:
        return local(at, self.zone).strftime("%Y%m%d")

    def time(self, at: datetime) -> str:
        return local(at, self.zone).strftime("%H%M%S")


def _control(docnum: str, idoctyp: str, mestyp: str, clock: _Clock, created: datetime) -> str:
    return f"""    <EDI_DC40 SEGMENT="1">
      <TABNAM>EDI_DC40</TABNAM>
      <MANDT>100</MANDT>
      <DOCNUM>{docnum}</DOCNUM>
      <DIRECT>1</DIRECT>
      <IDOCTYP>{idoctyp}</IDOCTYP>
      <MESTYP>{mestyp}</MESTYP>
      <SNDPOR>SAPP01</SNDPOR>
      <SNDPRT>LS</SNDPRT>
      <SNDPRN>P01CLNT100</SNDPRN>
      <RCVPOR>V2VHUB</RCVPOR>
      <RCVPRN>V2VHUB</RCVPRN>
      <CREDAT>{clock.date(created)}</CREDAT>
      <CRETIM>{clock.time(created)}</CRETIM>
    </EDI_DC40>"""


def _idoc(root: str, body: str) -> bytes:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n  <IDOC BEGIN="1">\n{body}\n'
    return (text + f"  </IDOC>\n</{root}>\n").encode("utf-8")


def order(f: SapOrder) -> bytes:
    c = _Clock(f.zone, f.created, f.slot_start, f.slot_end, f.ship, f.infusion)
    aufnr = f.order_id.zfill(12)
    body = f"""{_control(f.docnum, "LOIPRO01", "LOIPRO", c, f.created)}
    <E1AFKOL SEGMENT="1">
      <AUFNR>{aufnr}</AUFNR>
      <AUART>PI01</AUART>
      <WERKS>{xml(f.plant)}</WERKS>
      <MATNR>{xml(f.material)}</MATNR>
      <GAMNG>1.000</GAMNG>
      <GMEIN>EA</GMEIN>
      <GSTRS>{c.date(f.slot_start)}</GSTRS>
      <GSUZS>{c.time(f.slot_start)}</GSUZS>
      <GLTRS>{c.date(f.slot_end)}</GLTRS>
      <GLUZS>{c.time(f.slot_end)}</GLUZS>
      <E1AFPOL SEGMENT="1">
        <POSNR>0001</POSNR>
        <MATNR>{xml(f.material)}</MATNR>
        <CHARG>{xml(f.batch)}</CHARG>
      </E1AFPOL>
      <Z1V2VHUB SEGMENT="1">
        <COI>{f.coi}</COI>
        <TZONE>{c.code}</TZONE>
        <AKTYP>H</AKTYP>
        <PROFILE>{xml(f.profile)}</PROFILE>
        <PSHDAT>{c.date(f.ship)}</PSHDAT>
        <PSHTIM>{c.time(f.ship)}</PSHTIM>
        <PINDAT>{c.date(f.infusion)}</PINDAT>
        <PINTIM>{c.time(f.infusion)}</PINTIM>
        <TRTSITE>{xml(f.treatment_site)}</TRTSITE>
        <USNAM>{xml(f.user)}</USNAM>
      </Z1V2VHUB>
    </E1AFKOL>"""
    return _idoc("LOIPRO01", body)


def batch(f: SapBatch) -> bytes:
    c = _Clock(f.zone, f.created)
    body = f"""{_control(f.docnum, "BATMAS03", "BATMAS", c, f.created)}
    <E1BATMAS SEGMENT="1">
      <MATERIAL>{xml(f.material)}</MATERIAL>
      <BATCH>{xml(f.batch)}</BATCH>
      <PLANT>{xml(f.plant)}</PLANT>
      <E1BPBATCHATT SEGMENT="1">
        <PROD_DATE>{c.date(f.created)}</PROD_DATE>
        <EXPIRYDATE>{f.expiry.strftime("%Y%m%d")}</EXPIRYDATE>
      </E1BPBATCHATT>
      <E1BP3060_VALUATION_CHAR SEGMENT="1">
        <CHARACT>COI</CHARACT>
        <VALUE_CHAR>{f.coi}</VALUE_CHAR>
      </E1BP3060_VALUATION_CHAR>
      <Z1V2VHUB SEGMENT="1">
        <TZONE>{c.code}</TZONE>
        <USNAM>{xml(f.user)}</USNAM>
      </Z1V2VHUB>
    </E1BATMAS>"""
    return _idoc("BATMAS03", body)


def delivery(f: SapDelivery) -> bytes:
    c = _Clock(f.zone, f.created, f.goods_issue, f.planned_delivery)
    partners = [
        ("OSP", f.plant, f.ship_from),
        ("WE", f.ship_to_id, f.ship_to),
        ("SP", "0000300400", f.carrier),
    ]
    segments = "\n".join(
        f"""      <E1ADRM1 SEGMENT="1">
        <PARTNER_Q>{q}</PARTNER_Q>
        <PARTNER_ID>{xml(pid)}</PARTNER_ID>
        <NAME1>{xml(name)}</NAME1>
      </E1ADRM1>"""
        for q, pid, name in partners
    )
    body = f"""{_control(f.docnum, "DELVRY07", "DESADV", c, f.created)}
    <E1EDL20 SEGMENT="1">
      <VBELN>{f.delivery}</VBELN>
      <VSTEL>{xml(f.plant)}</VSTEL>
      <ROUTE>{xml(f.route)}</ROUTE>
      <BOLNR>{xml(f.shipment_id)}</BOLNR>
{segments}
      <E1EDT13 SEGMENT="1">
        <QUALF>006</QUALF>
        <NTANF>{c.date(f.goods_issue)}</NTANF>
        <NTANZ>{c.time(f.goods_issue)}</NTANZ>
        <ISDD>{c.date(f.goods_issue)}</ISDD>
        <ISDZ>{c.time(f.goods_issue)}</ISDZ>
      </E1EDT13>
      <E1EDT13 SEGMENT="1">
        <QUALF>007</QUALF>
        <NTANF>{c.date(f.planned_delivery)}</NTANF>
        <NTANZ>{c.time(f.planned_delivery)}</NTANZ>
      </E1EDT13>
      <E1EDL24 SEGMENT="1">
        <POSNR>000010</POSNR>
        <MATNR>{xml(f.material)}</MATNR>
        <WERKS>{xml(f.plant)}</WERKS>
        <CHARG>{xml(f.batch)}</CHARG>
        <LFIMG>1.000</LFIMG>
        <VRKME>EA</VRKME>
      </E1EDL24>
      <Z1V2VHUB SEGMENT="1">
        <COI>{f.coi}</COI>
        <TZONE>{c.code}</TZONE>
        <USNAM>{xml(f.user)}</USNAM>
      </Z1V2VHUB>
    </E1EDL20>"""
    return _idoc("DELVRY07", body)


def usage_decision(f: SapUsageDecision) -> bytes:
    millis = int(f.decided.astimezone(UTC).timestamp() * 1000)
    entity = {
        "__metadata": {"type": "API_INSPECTIONLOT_SRV.A_InspLotUsageDecisionType"},
        "InspectionLot": f.lot,
        "SelectedCodeSetPlant": f.plant,
        "InspLotUsageDecisionCodeGroup": "ZCGT",
        "InspectionLotUsageDecisionCode": f.code,
        "InspLotUsageDecisionValuation": f.valuation,
        "InspectionLotUsageDecidedBy": f.decided_by,
        "ChangedDateTime": f"/Date({millis}+0000)/",
        "to_InspectionLot": {
            "InspectionLot": f.lot,
            "Material": f.material,
            "Batch": f.batch,
            "Plant": f.plant,
            "YY1_COI": f.coi,
        },
    }
    return to_json({"d": entity})
