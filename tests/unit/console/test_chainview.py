"""The chain page's content from a chain's audit records: the temperature legs with the
profile's range and the readings outside it, the milestones against plan, the handovers, the
identity checks, the case's versions and notes, and the view as of an earlier time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.console.chainview import build_chain_view, case_history
from hub.flow import FlowCore
from hub.flow.memory import MemoryHub
from tests.scenarios.excursion import warm_inbound

pytestmark = pytest.mark.req("REQ-P11-RECONSTRUCT")


def test_the_chain_from_its_trail(core: FlowCore) -> None:
    story = warm_inbound(3)
    hub = MemoryHub(core)
    for event in sorted(story.events, key=lambda e: e.source.received_at):
        hub.inject(event, route=False)
    records = [r for r in hub.audit if r.chain == story.coi]
    latest = max(r.at for r in records)
    cv = build_chain_view(core, story.coi, records, latest)
    assert cv.view.faithful
    assert cv.view.replayed == len(records)

    (leg,) = cv.legs
    assert (leg.shipment_id, leg.leg, leg.mode) == (story.ship_in, "inbound", "fresh")
    assert (leg.min_c, leg.max_c) == (2.0, 8.0)
    assert len(leg.readings) == 25
    assert [r.value for r in leg.excursions] == [12.5] * 8
    chart = leg.chart()
    assert chart["outside"].count(None) == 17
    assert chart["x"] == sorted(chart["x"])

    (handover,) = cv.handovers
    assert handover.verified
    assert handover.released_at is not None
    assert handover.accepted_at is not None
    (check,) = cv.identity_checks
    assert (check.checkpoint, check.matched) == ("manufacturing_receipt", True)
    planned = {m.name: m for m in cv.milestones}
    assert planned["manufacturing start"].planned == story.t.slot_start
    assert planned["manufacturing start"].actual is None
    assert planned["collection completed"].actual is not None

    (case,) = [c for c in cv.view.cases if c.code == "TEMP_EXCURSION_FRESH"]
    history = case_history(records, case.case_id, case.evidence_event_ids)
    assert [r.ref for r in history.versions] == [f"{case.case_id}@1"]
    assert history.notes == []
    assert {e.event_id for e in history.evidence} == set(case.evidence_event_ids)

    # as of before the shipment departed: no leg yet, no case
    before = build_chain_view(core, story.coi, records, story.t.inbound_depart - timedelta(hours=1))
    assert before.legs == []
    assert before.view.cases == []
    assert len(before.view.records) < len(records)
