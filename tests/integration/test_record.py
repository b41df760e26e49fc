"""``v2v record`` against the real broker: the raw topics' messages of a receipt-time window,
with their receipt times and bytes, in receipt order, ready for ``v2v replay``."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from connectors.conformance import sample_files
from hub.replay.lines import MessageLine, Where, parse_line
from hub.replay.record import record_topics
from hub.sim.stack import Feeder
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-P11-COPIES", "REQ-ALCOA-ORIGINAL")]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_record_exports_a_receipt_time_window_in_receipt_order(hub_settings) -> None:
    settings = hub_settings.model_copy(update={"partners": ["courier", "logger"]})
    ensure_topics(settings)
    topics = Topics.of(settings)
    courier = [p.read_bytes() for p in sample_files("courier")[:3]]
    csv = next(p for p in sample_files("logger") if p.suffix == ".csv").read_bytes()
    with Feeder(settings) as feeder:
        # sent out of receipt order, across two partners' topics
        feeder.send(topics.raw["courier"], [(None, courier[2], None)], at=T0 + timedelta(hours=3))
        feeder.send(topics.raw["logger"], [(None, csv, [("content-type", b"text/csv")])], at=T0)
        feeder.send(topics.raw["courier"], [(None, courier[0], None)], at=T0 + timedelta(hours=1))
        feeder.send(topics.raw["courier"], [(None, courier[1], None)], at=T0 + timedelta(hours=2))

    everything = io.StringIO()
    assert record_topics(settings, everything) == 4
    lines = [
        parse_line(text, Where("-", n)) for n, text in enumerate(everything.getvalue().splitlines())
    ]
    assert all(isinstance(line, MessageLine) for line in lines)
    messages = [line.message for line in lines]  # type: ignore[union-attr]
    assert [m.received_at for m in messages] == [T0 + timedelta(hours=h) for h in range(4)]
    assert [m.partner for m in messages] == ["logger", "courier", "courier", "courier"]
    assert [m.payload for m in messages] == [csv, *courier]
    assert messages[0].content_type == "text/csv"

    window = io.StringIO()
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    assert record_topics(settings, window, start, end) == 2  # [start, end)
    received = [parse_line(t, Where("-", 0)) for t in window.getvalue().splitlines()]
    assert [line.message.payload for line in received] == courier[:2]  # type: ignore[union-attr]
