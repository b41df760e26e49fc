"""The two shipments of a journey: courier webhooks, logger uploads, the goods issue.

Inbound the fresh bag travels in a 2-8 C box, outbound the product in an LN2 dry shipper; both
carry a logger that reads every 15 minutes and uploads what it read every hour (at :52, the
readings up to :45), so the hub never sees a logger silent for longer than its gap limit and
never receives a reading later than the profile's late-event SLA.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.sim.facts import CourierStatus, LoggerExport, SapDelivery
from hub.sim.network import Lane
from hub.sim.timeline import H, M

if TYPE_CHECKING:
    from hub.sim.journey import Journey

READING_EVERY = timedelta(minutes=15)
_PREFIX = {"CryoExpress": "CRX", "EuroCryo Logistics": "ECL"}


def courier(
    j: Journey, step: str, code: str, at: datetime, lane: Lane, sid: str, **kw: Any
) -> None:
    """One tracking webhook (Rec 24 ``code``), with ``kw`` overriding the defaults."""
    prefix = _PREFIX[lane.courier]
    base = CourierStatus(
        coi=j.p.coi, step=step, received=at + 2 * M, zone=lane.origin.zone,
        message_id=f"{prefix}-{j.net.seed % 1000:03d}-{j.p.n:05d}-{j.seq('crx'):02d}",
        code=code, at=at, shipment_id=sid, carrier=lane.courier, lane=lane.name,
        tracking=f"{prefix}{j.p.n:07d}{sid[-2:]}",
    )  # fmt: skip
    j.add(replace(base, **kw))


def logger_uploads(
    j: Journey, leg: str, lane: Lane, sid: str, start: datetime, end: datetime
) -> None:
    """Readings every 15 min from ``start`` to ``end``, uploaded hourly and at arrival."""
    logger = f"LGR-{j.p.n:05d}-A" if leg == "inbound" else f"DS-{j.p.n:05d}"
    cryo = leg == "outbound"
    at = start.replace(minute=start.minute - start.minute % 15)
    at += READING_EVERY if at < start else timedelta(0)
    readings: list[tuple[datetime, float]] = []
    while at <= end:
        noise = j.rng.uniform(-1.5, 1.5) if cryo else j.rng.uniform(-0.6, 0.6)
        readings.append((at, round((-186.0 if cryo else 5.0) + noise, 1)))
        at += READING_EVERY
    upload = start.replace(minute=52)
    upload += H if upload <= start else timedelta(0)
    k = done = 0
    while done < len(readings):
        final = upload >= end
        cut = end if final else upload - 7 * M
        batch = tuple(r for r in readings[done:] if r[0] <= cut)
        if batch:
            k, done = k + 1, done + len(batch)
            j.add(
                LoggerExport(
                    coi=j.p.coi, step=f"{leg}.logger.{k:02d}",
                    received=(end + 5 * M if final else upload) + M,
                    zone=lane.origin.zone if leg == "inbound" else "UTC",
                    export_id=f"{logger}-{j.net.seed % 1000:03d}-EXP-{k:03d}", logger_id=logger,
                    shipment_id=sid, interval_s=900, readings=batch,
                )
            )  # fmt: skip
        upload += H


def inbound(j: Journey) -> None:
    """Pick-up at the apheresis unit, departure, transit, signed delivery at the manufacturer."""
    p, t, lane = j.p, j.t, j.p.clinic.inbound
    sid, cdmo = p.ship_in, j.net.cdmo.site
    origin = (lane.origin.sgln, lane.origin.name, lane.origin.country)
    courier(
        j, "inbound.pickup", "13", t.pickup, lane, sid, din=p.din, din_check=p.din_check,
        place=origin, agent=f"driver-{p.n % 40 + 1:04d}", custody_from=lane.origin.name,
        custody_to=cdmo.name, released_by=f"nurse-{p.n % 9 + 1:03d}", release_scanned=True,
    )  # fmt: skip
    courier(j, "inbound.departed", "24", t.depart, lane, sid, eta=t.delivered)
    logger_uploads(j, "inbound", lane, sid, t.pickup, t.delivered)
    courier(
        j, "inbound.delivered", "21", t.delivered, lane, sid, zone=cdmo.zone,
        place=(cdmo.sgln, cdmo.name, cdmo.country), custody_to=cdmo.name,
        signer=f"receiving-tech-{p.n % 12 + 1:03d}", signer_scanned=True,
    )  # fmt: skip


def outbound(j: Journey) -> None:
    """Goods issue (SAP DESADV), courier pick-up, departure, transit, signed site delivery."""
    p, t, lane, cdmo = j.p, j.t, j.p.clinic.outbound, j.net.cdmo
    sid, site = p.ship_out, p.clinic.infusion
    j.add(
        SapDelivery(
            coi=p.coi, step="outbound.goods_issue", received=t.ship + 5 * M, zone=j.cdmo_zone,
            docnum=j.docnum(), delivery=f"80{p.n:08d}", shipment_id=sid, batch=p.batch,
            material=cdmo.material, plant=cdmo.plant, route=lane.name,
            ship_from=cdmo.site.name, ship_to=site.name, ship_to_id=p.clinic.customer,
            carrier=lane.courier, goods_issue=t.ship, planned_delivery=t.out_delivered,
            created=t.ship, user="SHIPPING07",
        )
    )  # fmt: skip
    courier(
        j, "outbound.pickup", "13", t.out_pickup, lane, sid,
        place=(cdmo.site.sgln, cdmo.site.name, cdmo.site.country),
        custody_from=cdmo.site.name, custody_to=site.name, released_by="shipping-lead-07",
        release_scanned=True,
    )  # fmt: skip
    courier(j, "outbound.departed", "24", t.out_depart, lane, sid, eta=t.out_delivered)
    logger_uploads(j, "outbound", lane, sid, t.out_pickup, t.out_delivered)
    courier(
        j, "outbound.delivered", "21", t.out_delivered, lane, sid, zone=site.zone,
        place=(site.sgln, site.name, site.country), custody_to=site.name,
        signer=f"pharmacist-{p.n % 6 + 1:03d}", signer_scanned=True,
    )  # fmt: skip
