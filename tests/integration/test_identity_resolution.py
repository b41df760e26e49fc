"""Identity resolution on the real stack: a logger knows only its shipment; the courier's
pick-up links the shipment to the COI; readings reach the chain whichever comes first, and a
second COI claiming the same shipment is an identity case, never an overwrite."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.conformance import sample_files
from hub.cases.models import Case
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, TopicReader, WorkerProcess
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-FN-IDENTITY")]

CASES = SingleObjectWireFormat(codec_for(Case))
LOGGER = next(p for p in sample_files("logger") if p.name.startswith("01-")).read_bytes()
READINGS = LOGGER.decode().count("SHP-240001,")  # rows of shipment SHP-240001 in the export
PICKUP = json.loads(
    next(p for p in sample_files("courier") if p.name.startswith("01-")).read_bytes()
)


@pytest.fixture
def hub(hub_settings, tmp_path):
    settings = hub_settings.model_copy(update={"partners": ["courier", "logger"]})
    ensure_topics(settings)
    with WorkerProcess(settings, tmp_path / "worker.log").running() as worker:
        yield settings, worker


@pytest.fixture
def reader(tokens) -> dict[str, str]:
    return tokens.headers("op-olga", "operator")


def events_of(worker: WorkerProcess, coi: str, headers: dict[str, str]) -> int:
    page = httpx.get(f"{worker.url}/chains/{coi}", headers=headers, timeout=5)
    return page.json()["event_count"] if page.status_code == 200 else 0


@pytest.mark.parametrize("link_first", [False, True], ids=["readings-first", "link-first"])
def test_readings_reach_the_chain_once_the_shipment_is_linked(hub, reader, link_first) -> None:
    settings, worker = hub
    topics = Topics.of(settings)
    csv = [(None, LOGGER, [("content-type", b"text/csv")])]
    pickup = [(None, json.dumps(PICKUP).encode(), [("content-type", b"application/json")])]
    coi = PICKUP["coi"]
    with Feeder(settings) as feeder, TopicReader(settings, topics.events) as events:
        first, second = (pickup, csv) if link_first else (csv, pickup)
        feeder.send(topics.raw["courier" if link_first else "logger"], first)
        if not link_first:
            # every reading waits while the shipment is unknown: none reaches the events topic
            worker.wait_metric("v2v_identity_parked_total", READINGS)
            assert worker.metric("v2v_identity_resolved_total") == 0
            assert events.pump() == 0
        feeder.send(topics.raw["logger" if link_first else "courier"], second)
        assert events.poll_until(
            lambda _: events_of(worker, coi, reader) >= READINGS + 2, timeout_s=60
        ), worker.tail()
    chain = httpx.get(f"{worker.url}/chains/{coi}", headers=reader, timeout=5).json()
    assert chain["event_count"] == READINGS + 2  # pick-up status + custody release + readings
    metrics = httpx.get(f"{worker.url}/metrics", timeout=5).text
    assert f"v2v_identity_resolved_total {float(READINGS)}" in metrics


@pytest.mark.req("REQ-EXC-COI_MISMATCH_RECEIPT")
def test_a_second_coi_claiming_a_linked_shipment_is_an_identity_case(hub, reader) -> None:
    settings, worker = hub
    topics = Topics.of(settings)
    other = {**PICKUP, "message_id": "CRX-OTHER-1", "coi": "V2VDEMO00000001I", "din": None}
    with Feeder(settings) as feeder, TopicReader(settings, topics.cases) as cases:
        feeder.send(topics.raw["courier"], [(None, json.dumps(PICKUP).encode(), None)])
        assert cases.poll_until(
            lambda _: events_of(worker, PICKUP["coi"], reader) >= 2, timeout_s=60
        )
        feeder.send(topics.raw["courier"], [(None, json.dumps(other).encode(), None)])
        worker.wait_metric("v2v_link_conflicts_total", 1)
        worker.wait_metric("v2v_events_processed_total", 5)  # 2 + 2 + the conflict
        assert cases.reach(int(worker.metric("v2v_case_versions_total")), timeout_s=60)
    claimant = [CASES.decode(r.value()) for r in cases.records]
    mismatch = [
        c for c in claimant if c.coi_id == other["coi"] and c.code.startswith("COI_MISMATCH")
    ]
    assert mismatch, [(c.coi_id, c.code) for c in claimant]
    assert mismatch[0].severity.value == "CRITICAL"
