"""A whole chain and the case lifecycle through the real broker, Redis and a hub worker:
a clean chain raises nothing; a critical case escalates, re-escalates when nobody acknowledges
it, and an acknowledgement over HTTP stops the next level. Escalations reach a real webhook
receiver exactly once each."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from hub.cases.models import Case, Escalation
from hub.events.models import Event, EventType
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, TopicReader, WorkerProcess, free_port
from hub.topics import Topics, ensure_topics
from tests.scenarios.builders import Story

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req("REQ-FN-CASES", "REQ-FN-ESCALATION", "REQ-INV-02"),
]

EVENTS = SingleObjectWireFormat(codec_for(Event))
CASES = SingleObjectWireFormat(codec_for(Case))
ESCALATIONS = SingleObjectWireFormat(codec_for(Escalation))


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on loopback that records what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(inner) -> None:
                body = inner.rfile.read(int(inner.headers["Content-Length"]))
                self.received.append((inner.headers["Idempotency-Key"], json.loads(body)))
                inner.send_response(204)
                inner.end_headers()

            def log_message(inner, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/escalations"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub(hub_settings, receiver, tmp_path):
    settings = hub_settings.model_copy(update={"webhook_url": receiver.url})
    ensure_topics(settings)
    with WorkerProcess(settings, tmp_path / "worker.log").running() as worker:
        yield settings, worker


def oos(records: list, case_id: str | None = None) -> list[Escalation]:
    """The escalations of QC_OUT_OF_SPEC cases (of one case, given its id), in order."""
    decoded = (ESCALATIONS.decode(r.value()) for r in records)
    return [e for e in decoded if e.code == "QC_OUT_OF_SPEC" and case_id in (None, e.case_id)]


def feed(feeder: Feeder, topics: Topics, stream: list[Event]) -> tuple[int, int]:
    """Business events keyed by COI, and every tick to every partition, in stream order.
    Returns how many records of each went to the events topic."""
    sent = ticks = 0
    for event in stream:
        if event.event_type is EventType.CLOCK_TICK:
            feeder.ticks(event.occurred_at)
            ticks += feeder.settings.topic_partitions
        else:
            feeder.send(topics.events, [(event.coi_id.encode(), EVENTS.encode(event), None)])
            sent += 1
    return sent, ticks


@pytest.mark.req("REQ-FN-DETECTION")
def test_clean_chain_end_to_end_raises_nothing_and_reaches_infusion(hub, tokens) -> None:
    settings, worker = hub
    topics = Topics.of(settings)
    reader = tokens.headers("op-olga", "operator")
    story = Story("cart-fresh-48h", 1).clean()
    with Feeder(settings) as feeder:
        sent, ticks = feed(feeder, topics, story.stream(every=timedelta(hours=6)))

    def caught_up() -> bool:
        page = httpx.get(f"{worker.url}/chains/{story.coi}", headers=reader, timeout=5)
        return page.status_code == 200 and page.json()["event_count"] == sent

    worker.wait_metric("v2v_events_processed_total", sent + ticks, timeout_s=90)
    with TopicReader(settings, topics.cases) as cases:
        assert cases.poll_until(lambda _: caught_up(), timeout_s=90), worker.tail()
    assert worker.metric("v2v_case_versions_total") == 0
    assert [CASES.decode(r.value()).code for r in cases.records] == []
    chain = httpx.get(f"{worker.url}/chains/{story.coi}", headers=reader, timeout=5).json()
    assert chain["stage"] == "INFUSED"
    assert chain["open_cases"] == []
    timeline = httpx.get(
        f"{worker.url}/chains/{story.coi}/timeline", headers=reader, timeout=5
    ).json()["events"]
    assert len(timeline) == sent
    assert [e["occurred_at"] for e in timeline] == sorted(e["occurred_at"] for e in timeline)
    assert timeline[-1]["event_type"] == "INFUSION_COMPLETED"


@pytest.mark.req("REQ-P11-AUDIT", "REQ-ALCOA-ATTRIBUTABLE", "REQ-EXC-QC_OUT_OF_SPEC")
def test_unacknowledged_critical_case_escalates_and_an_http_ack_stops_it(
    hub, receiver, tokens
) -> None:
    settings, worker = hub
    anna = tokens.headers("qp-anna", "qualified-person", name="Anna Berg")
    topics = Topics.of(settings)
    story = Story("cart-fresh-48h", 2)
    story.phase_order()
    story.qc("VIABILITY", story.t.qc_start, value=41.0)  # specification: >= 80 %
    with Feeder(settings) as feeder, TopicReader(settings, topics.escalations) as escalations:
        _, ticks = feed(feeder, topics, story.events)
        assert escalations.poll_until(lambda rs: len(oos(rs)) >= 1, timeout_s=60), worker.tail()
        first = oos(escalations.records)[0]
        assert (first.level, first.recipient_role, first.severity.value) == (
            1,
            "qa-on-call",
            "CRITICAL",
        )

        # 16 minutes on the hub's clock without acknowledgement: level 2, the QP
        feeder.ticks(first.issued_at + timedelta(minutes=16))
        ticks += settings.topic_partitions
        assert escalations.poll_until(lambda rs: len(oos(rs, first.case_id)) >= 2, timeout_s=30), (
            worker.tail()
        )
        second = oos(escalations.records, first.case_id)[1]
        assert (second.level, second.recipient_role, second.reason) == (
            2,
            "qualified-person",
            "NOT_ACKNOWLEDGED",
        )

        # acknowledging a CRITICAL case is an e-signature on the version she reviewed
        seen = httpx.get(f"{worker.url}/cases/{first.case_id}", headers=anna, timeout=5).json()
        answer = httpx.post(
            f"{worker.url}/cases/{first.case_id}/ack",
            json={"version": seen["version"]},
            headers=anna,
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["signature"]["meaning"] == "REVIEW"
        with TopicReader(settings, topics.cases) as cases:
            assert cases.poll_until(
                lambda rs: any(CASES.decode(r.value()).status.value == "ACKNOWLEDGED" for r in rs),
                timeout_s=30,
            ), worker.tail()
        versions = [CASES.decode(r.value()) for r in cases.records]
        acked = max((c for c in versions if c.case_id == first.case_id), key=lambda c: c.version)
        assert (acked.acknowledged_by, acked.version) == ("qp-anna", 2)
        assert [(s.signer, s.name, s.case_version) for s in acked.signatures] == [
            ("qp-anna", "Anna Berg", 1)
        ]

        # long past level 2's 30 minutes: an acknowledged case is not escalated again
        worker.wait_metric("v2v_commands_processed_total", 1)
        feeder.ticks(first.issued_at + timedelta(hours=3))
        ticks += settings.topic_partitions
        worker.wait_metric("v2v_events_processed_total", ticks, event_type="CLOCK_TICK")
        owed = worker.metric("v2v_escalations_issued_total")
        assert escalations.reach(int(owed), timeout_s=30)
    assert escalations.count == owed
    assert [e.level for e in oos(escalations.records, first.case_id)] == [1, 2]

    page = httpx.get(f"{worker.url}/cases/{first.case_id}", headers=anna, timeout=5).json()
    assert page["status"] == "ACKNOWLEDGED"
    acknowledged = httpx.get(
        f"{worker.url}/cases?status=acknowledged", headers=anna, timeout=5
    ).json()
    assert [c["case_id"] for c in acknowledged["cases"]] == [first.case_id]
    unsigned = httpx.post(f"{worker.url}/cases/{first.case_id}/ack", json={}, headers=anna)
    assert unsigned.status_code == 400
    assert "name the case version you sign" in unsigned.json()["reason"]
    assert httpx.post(f"{worker.url}/cases/nope/ack", json={}, headers=anna).status_code == 404

    # the webhook got each escalation exactly once, keyed by its escalation id
    mine = [(key, body) for key, body in receiver.received if body["case_id"] == first.case_id]
    assert sorted(key for key, _ in mine) == sorted([first.escalation_id, second.escalation_id])
    assert {body["level"] for _, body in mine} == {1, 2}
