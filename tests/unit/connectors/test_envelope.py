"""The one event-envelope builder (connectors.base.Envelope)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connectors.base import Envelope, payload_id
from hub.events.ids import derive_id
from hub.events.models import Actor, EventType, LinkDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


def test_the_id_is_derived_from_partner_key_and_index() -> None:
    envelope = Envelope.of("courier", "courier-tracking", "MSG-1", RECEIVED)
    first = envelope.event(0, EventType.SHIPMENT_STATUS, AT)
    about_a_lot = envelope.event(2, EventType.MATERIAL_RECEIVED, AT, key="LOT-9/receipt")
    assert first.event_id == derive_id("event", "courier", "MSG-1", 0)
    assert about_a_lot.event_id == derive_id("event", "courier", "LOT-9/receipt", 2)
    assert about_a_lot.source.message_id == "MSG-1"


def test_events_carry_what_their_envelope_shares() -> None:
    envelope = replace(
        Envelope.of("sap", "sap-erp", "0000001", RECEIVED), coi_id="COI-1", biz_step="inspecting"
    )
    link = LinkDetail(id_kind="batch_id", id_value="B1")
    event = replace(envelope, actor=Actor(id="u")).event(1, EventType.IDENTIFIER_LINKED, AT, link)
    assert (event.coi_id, event.biz_step, event.actor) == ("COI-1", "inspecting", Actor(id="u"))
    assert event.recorded_at == event.source.received_at == RECEIVED
    assert event.occurred_at == AT
    assert event.detail == link


def test_a_message_without_id_is_named_by_its_content() -> None:
    assert payload_id(b"x") == payload_id(b"x") != payload_id(b"y")
    assert payload_id(b"x").startswith("sha256:")
