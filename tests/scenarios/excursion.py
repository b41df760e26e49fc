"""A fresh-material chain whose inbound shipment runs warm: the console's tests use it."""

from __future__ import annotations

from datetime import timedelta

from hub.events.models import EventType
from tests.scenarios.builders import Story


def warm_inbound(n: int) -> Story:
    """Inbound at 5 °C, then 12.5 °C for two hours mid-way (TEMP_EXCURSION_FRESH, 8 readings
    outside 2..8 °C), delivered, accepted with a verified handover and a matched identity scan."""
    s = Story("cart-fresh-48h", n)
    t = s.t
    s.phase_order()
    s.inbound_departed()
    mid = t.inbound_depart + (t.inbound_arrive - t.inbound_depart) / 2
    quarter = timedelta(minutes=15)
    s.readings(s.ship_in, s.logger_in, t.inbound_depart, mid, 5.0)
    s.readings(s.ship_in, s.logger_in, mid + quarter, mid + timedelta(hours=2), 12.5)
    s.readings(s.ship_in, s.logger_in, mid + timedelta(hours=2) + quarter, t.inbound_arrive, 5.0)
    s.shipment(EventType.SHIPMENT_DELIVERED, s.ship_in, t.inbound_arrive, "DELIVERED")
    s.accept(s.ship_in, t.inbound_arrive + timedelta(minutes=5), s.aph, s.cdmo)
    s.identity("manufacturing_receipt", t.inbound_arrive + timedelta(minutes=10))
    return s
