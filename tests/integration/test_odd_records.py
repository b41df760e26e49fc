"""Odd records through the real worker: a forged clock tick, an event dated 9999, an order
naming an unknown product profile and a 200 KB COI are dead-lettered with their reason and
original bytes; the chain they aimed at goes on with sane records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.deadletter import header_dict
from hub.events.models import EventType
from hub.flow import FlowCore
from hub.flow.core import tick_event
from hub.settings import REPO_ROOT
from hub.sim.stack import Feeder, TopicReader
from hub.topics import Topics

pytestmark = pytest.mark.integration

COI = "V2VSAMPLE000001T"


def test_odd_records_are_dead_lettered_and_the_chain_goes_on(hub_settings, worker) -> None:
    topics = Topics.of(hub_settings)
    core = FlowCore.from_settings(hub_settings.model_copy(update={"partners": []}))
    pickup_raw = next(p for p in sample_files("courier") if p.name.startswith("01")).read_bytes()
    released = datetime.fromisoformat(json.loads(pickup_raw)["event_time"]).astimezone(UTC)
    received = released + timedelta(minutes=1)
    pickup = core.ingest(RawMessage("courier", pickup_raw, received)).events[0]
    order_xml = REPO_ROOT / "connectors" / "sap" / "samples" / "01-loipro-order-created.xml"
    order = next(
        e
        for e in core.ingest(RawMessage("sap", order_xml.read_bytes(), received)).events
        if e.event_type is EventType.THERAPY_ORDERED
    )
    with Feeder(hub_settings) as feeder:
        assert order.detail is not None
        odd = {
            "TICK_NOT_FROM_HUB": (b"", feeder.encode(tick_event(datetime(2099, 1, 1, tzinfo=UTC)))),
            "IMPLAUSIBLE_TIME": (
                COI.encode(),
                feeder.encode(
                    pickup.model_copy(
                        update={
                            "event_id": "odd-9999",
                            "occurred_at": datetime(9999, 12, 31, tzinfo=UTC),
                        }
                    )
                ),
            ),
            "UNKNOWN_PRODUCT_PROFILE": (
                COI.encode(),
                feeder.encode(
                    order.model_copy(
                        update={
                            "detail": order.detail.model_copy(
                                update={"product_profile": "../../etc/passwd"}
                            )
                        }
                    )
                ),
            ),
            "IMPLAUSIBLE_IDENTIFIER": (
                b"huge",
                feeder.encode(pickup.model_copy(update={"coi_id": "X" * 200_000})),
            ),
        }
        with TopicReader(hub_settings, topics.dlq) as dlq:
            for key, value in odd.values():
                # an unsigned tick goes to every partition: each must refuse it
                feeder.send(topics.events, [(key, value, None)], partition=0 if not key else None)
            assert dlq.reach(len(odd), timeout_s=60)
        codes = {header_dict(r.headers())["v2v.errors.code"]: r for r in dlq.records}
        assert set(codes) == set(odd)
        for code, (_, value) in odd.items():
            assert codes[code].value() == value  # the original bytes
            assert header_dict(codes[code].headers())["__connect.errors.stage"] == "chain"
        # the chain takes sane records, and a signed tick, as ever
        feeder.send(topics.events, [(COI.encode(), feeder.encode(pickup), None)])
        feeder.ticks(received + timedelta(minutes=5))
        worker.wait_metric("v2v_events_processed_total", 1, event_type=pickup.event_type.value)
        worker.wait_metric(
            "v2v_events_processed_total", hub_settings.topic_partitions, event_type="CLOCK_TICK"
        )
    assert worker.metric("v2v_case_versions_total") == 0  # the forged 2099 tick fired nothing
    assert worker.metric("v2v_dead_letters_total") == len(odd)
