"""The courier connector's mapping, sample by sample, and its precise rejections."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import RawMessage
from connectors.conformance import CONNECTORS_DIR
from connectors.courier.normalise import CourierConnector
from hub.events.models import CustodyDetail, EventType, ShipmentDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "courier" / "samples"
BAD = CONNECTORS_DIR / "courier" / "bad"
NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def run(path):
    return CourierConnector().process(RawMessage("courier", path.read_bytes(), NOW))


def test_pickup_releases_custody_towards_the_consignee() -> None:
    status, release = run(SAMPLES / "01-pickup.json").events
    assert status.event_type is EventType.SHIPMENT_STATUS
    assert isinstance(status.detail, ShipmentDetail)
    assert (status.detail.status, status.detail.status_code) == ("PICKED_UP", "13")
    assert release.event_type is EventType.CUSTODY_RELEASED
    assert release.detail == CustodyDetail(
        handover_id="SHP-240001",
        releasing_party="Boston Apheresis Centre",
        receiving_party="Philadelphia Cell Therapy Facility",
        lane="BOS-PHL-FRESH",
        verified_by="nurse-117",
        identity_scanned=True,
    )
    assert release.occurred_at == datetime(2026, 11, 24, 13, 15, tzinfo=UTC)  # -05:00 -> UTC
    assert release.coi_id == "V2VSAMPLE000001T"
    assert release.identifiers.din == "=A99991712345600"
    assert release.identifiers.other == {"tracking_number": "CRX7781234501"}
    assert (release.biz_step, release.disposition) == ("shipping", "in_transit")
    assert release.actor is not None
    assert (release.actor.id, release.actor.organisation) == ("driver-0042", "CryoExpress")
    assert release.recorded_at == NOW


def test_signed_delivery_accepts_custody_and_unsigned_does_not() -> None:
    delivered, accepted = run(SAMPLES / "08-delivered-signed.json").events
    assert delivered.event_type is EventType.SHIPMENT_DELIVERED
    assert accepted.event_type is EventType.CUSTODY_ACCEPTED
    assert isinstance(accepted.detail, CustodyDetail)
    assert accepted.detail.handover_id == "SHP-240001"
    assert accepted.detail.receiving_party == "Philadelphia Cell Therapy Facility"
    assert accepted.detail.verified_by == "receiving-tech-031"
    assert accepted.detail.signature == "receiving-tech-031@2026-11-24T20:44:00+00:00"
    [only] = run(SAMPLES / "09-delivered-unsigned.json").events
    assert only.event_type is EventType.SHIPMENT_DELIVERED


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("02-departed.json", "DEPARTED"),
        ("03-delayed.json", "DELAYED"),
        ("05-customs-hold.json", "CUSTOMS_HOLD"),
        ("06-customs-cleared.json", "CUSTOMS_CLEARED"),
        ("07-customs-refused.json", "CUSTOMS_REFUSED"),
    ],
)
def test_rec24_codes_map_to_statuses(name, status) -> None:
    [event] = run(SAMPLES / name).events
    assert isinstance(event.detail, ShipmentDetail)
    assert event.detail.status == status


def test_eta_update_carries_the_eta_in_utc() -> None:
    [event] = run(SAMPLES / "04-eta-update.json").events
    assert event.event_type is EventType.SHIPMENT_ETA_UPDATED
    assert isinstance(event.detail, ShipmentDetail)
    assert event.detail.eta == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("no-timezone.json", "TIMEZONE_MISSING", "event_time"),
        ("bad-coi-check.json", "INVALID_IDENTIFIER", "coi"),
        ("unknown-code.json", "UNKNOWN_STATUS", "status_code"),
        ("truncated.json", "NOT_JSON", None),
        ("missing-shipment.json", "MISSING_FIELD", "shipment_id"),
    ],
)
def test_rejections_are_specific(name, code, field) -> None:
    result = run(BAD / name)
    assert result.events == ()
    assert result.rejection is not None
    assert (result.rejection.code, result.rejection.field) == (code, field)
    assert result.rejection.partner == "courier"


@pytest.mark.req("REQ-INV-06")
def test_replayed_message_gives_the_same_event_ids() -> None:
    first = [e.event_id for e in run(SAMPLES / "01-pickup.json").events]
    assert first == [e.event_id for e in run(SAMPLES / "01-pickup.json").events]
