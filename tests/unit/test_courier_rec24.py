"""Every UN/ECE Rec 24 code becomes canonical events; only a code outside Rec 24 is rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.base import RawMessage
from connectors.courier.normalise import CourierConnector
from connectors.courier.rec24 import REC24, Rec24Class
from hub.events.models import EventType, ShipmentDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def status(code: str, **extra: object) -> RawMessage:
    body = {
        "message_id": f"CRX-REC24-{code}",
        "status_code": code,
        "event_time": "2026-11-24T10:30:00-05:00",
        "shipment_id": "SHP-240001",
        "carrier": "CryoExpress",
        "coi": "V2VSAMPLE000001T",
        **extra,
    }
    return RawMessage("courier", json.dumps(body).encode(), NOW)


def test_the_list_is_codes_1_to_103_and_uses_every_class() -> None:
    assert sorted(REC24, key=int) == [str(n) for n in range(1, 104)]
    assert {entry.cls for entry in REC24.values()} == set(Rec24Class)
    assert all(entry.name for entry in REC24.values())


@pytest.mark.parametrize("code", sorted(REC24, key=int))
def test_every_rec24_code_becomes_an_event_carrying_the_code(code: str) -> None:
    extra = {"custody": {"from": "a", "to": "b"}} if code == "13" else {}
    result = CourierConnector().process(status(code, **extra))
    assert result.rejection is None, result.rejection
    first = result.events[0]
    assert isinstance(first.detail, ShipmentDetail)
    assert first.detail.status_code == code
    delivery = REC24[code].cls is Rec24Class.DELIVERY
    assert (first.event_type is EventType.SHIPMENT_DELIVERED) == delivery


@pytest.mark.parametrize(
    ("code", "event_type", "word", "disposition"),
    [
        ("1", EventType.SHIPMENT_STATUS, "ARRIVED", "in_transit"),
        ("3", EventType.SHIPMENT_STATUS, "DAMAGED", "damaged"),
        ("18", EventType.SHIPMENT_STATUS, "DAMAGED", "damaged"),
        ("22", EventType.SHIPMENT_DELIVERED, "DELIVERED", "in_progress"),
        ("23", EventType.SHIPMENT_STATUS, "DELIVERY_NOT_COMPLETED", "in_transit"),
        ("31", EventType.SHIPMENT_STATUS, "IN_TRANSIT", "in_transit"),
        ("46", EventType.SHIPMENT_STATUS, "CUSTOMS_CONTROL", "in_transit"),
        ("49", EventType.SHIPMENT_STATUS, "LOST", "unavailable"),
        ("52", EventType.SHIPMENT_STATUS, "EXCEPTION", "in_transit"),
        ("77", EventType.SHIPMENT_STATUS, "REFUSED", "in_transit"),
        ("65", EventType.SHIPMENT_STATUS, "OTHER", None),
        ("99", EventType.SHIPMENT_STATUS, "IN_TRANSIT", "in_transit"),
    ],
)
def test_class_decides_status_event_and_disposition(
    code: str, event_type: EventType, word: str, disposition: str | None
) -> None:
    [event] = CourierConnector().process(status(code)).events
    assert event.event_type is event_type
    assert isinstance(event.detail, ShipmentDetail)
    assert event.detail.status == word
    assert event.disposition == disposition


def test_a_signed_receipt_acknowledgement_accepts_custody() -> None:
    msg = status("72", signature={"name": "tech-031", "identity_scanned": True})
    delivered, accepted = CourierConnector().process(msg).events
    assert delivered.event_type is EventType.SHIPMENT_DELIVERED
    assert accepted.event_type is EventType.CUSTODY_ACCEPTED


@pytest.mark.parametrize("code", ["OFD", "0", "104", "999", "13A"])
def test_a_code_outside_rec24_is_rejected_on_status_code(code: str) -> None:
    result = CourierConnector().process(status(code))
    assert result.events == ()
    assert result.rejection is not None
    assert (result.rejection.code, result.rejection.field) == ("UNKNOWN_STATUS", "status_code")
    assert "Recommendation 24" in result.rejection.reason
