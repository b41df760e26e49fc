"""Facts of logistics and the site pharmacy: courier webhooks, logger uploads, EPCIS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from hub.sim.facts.base import Fact

# --- logistics (courier webhooks, data loggers) ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CourierStatus(Fact):
    """One tracking webhook: a UN/ECE Rec 24 status (``code``) or an ETA update (``ETA``)."""

    partner: ClassVar[str] = "courier"
    message_id: str
    code: str
    at: datetime
    shipment_id: str
    tracking: str
    carrier: str
    lane: str
    din: str | None = None
    din_check: str | None = None
    place: tuple[str, str, str] | None = None  # (id, name, country)
    agent: str | None = None
    custody_from: str | None = None
    custody_to: str | None = None
    released_by: str | None = None
    release_scanned: bool | None = None
    signer: str | None = None
    signer_scanned: bool | None = None
    eta: datetime | None = None
    reason: str | None = None
    customs_hold: bool = False
    truncated: bool = False  # cut off in transit (malformed-message fault)


@dataclass(frozen=True, kw_only=True)
class LoggerExport(Fact):
    partner: ClassVar[str] = "logger"
    export_id: str
    logger_id: str
    shipment_id: str
    interval_s: int
    readings: tuple[tuple[datetime, float], ...]


# --- GS1 EPCIS (site pharmacy, collection-site labelling) -----------------------------------


@dataclass(frozen=True, kw_only=True)
class EpcisEvent:
    event_id: str
    biz_step: str
    disposition: str
    epcs: tuple[str, ...]
    at: datetime
    read_point: str
    biz_location: str | None = None
    coi: str | None = None
    din: str | None = None
    batch: str | None = None
    material_type: str | None = None
    shipment_id: str | None = None
    source: str | None = None
    destination: str | None = None
    device_id: str | None = None
    readings: tuple[tuple[datetime, float], ...] = ()
    ilmd: bool = False  # hub fields in ``ilmd`` (commissioning) rather than on the event
    declared: datetime | None = None  # errorDeclaration time
    declared_reason: str | None = None
    corrective: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EpcisDocument(Fact):
    partner: ClassVar[str] = "epcis"
    doc_id: str
    created: datetime
    events: tuple[EpcisEvent, ...]
