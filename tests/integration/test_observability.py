"""What the dashboards and alerts read, from a real worker: open cases by SLA state through a
case's life (opened, re-escalated, acknowledged), the consumer lag of the partitions it reads,
and the playbook link on the case page."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.sim.stack import Feeder, TopicReader, WorkerProcess
from hub.topics import Topics, ensure_topics
from tests.integration.test_case_lifecycle import feed, oos
from tests.scenarios.builders import Story

pytestmark = pytest.mark.integration
OOS = {"severity": "CRITICAL", "code": "QC_OUT_OF_SPEC"}


@pytest.fixture
def worker(hub_settings, tmp_path):
    ensure_topics(hub_settings)
    with WorkerProcess(hub_settings, tmp_path / "worker.log").running() as process:
        yield hub_settings, process


def lag(worker: WorkerProcess, topic: str) -> dict[str, float]:
    """partition -> the worker's ``v2v_consumer_lag`` for ``topic``."""
    text = httpx.get(f"{worker.url}/metrics", timeout=5).text
    return {
        s.labels["partition"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "v2v_consumer_lag" and s.labels["topic"] == topic
    }


def wait_for(check, timeout_s: float = 60.0) -> bool:
    """Poll ``check`` on the worker's own facts (a gauge it refreshes every few seconds)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_open_cases_follow_the_sla_and_the_case_page_links_its_playbook(worker, tokens) -> None:
    settings, process = worker
    anna = tokens.headers("qp-anna", "qualified-person", name="Anna Berg")
    topics = Topics.of(settings)
    story = Story("cart-fresh-48h", 3)
    story.phase_order()
    story.qc("VIABILITY", story.t.qc_start, value=41.0)  # specification: >= 80 %
    with Feeder(settings) as feeder, TopicReader(settings, topics.escalations) as escalations:
        sent, ticks = feed(feeder, topics, story.events)
        assert escalations.poll_until(lambda rs: len(oos(rs)) >= 1, timeout_s=60), process.tail()
        first = oos(escalations.records)[0]
        process.wait_metric("v2v_cases_open", 1, **OOS, sla="within")

        feeder.ticks(first.issued_at + timedelta(minutes=16))  # nobody acked
        ticks += settings.topic_partitions
        assert escalations.poll_until(lambda rs: len(oos(rs, first.case_id)) >= 2, timeout_s=30)
        process.wait_metric("v2v_cases_open", 1, **OOS, sla="breached")
        assert process.metric("v2v_cases_open", **OOS, sla="within") == 0

    # acknowledging a CRITICAL case is an e-signature on the version she saw
    seen = httpx.get(f"{process.url}/cases/{first.case_id}", headers=anna, timeout=5).json()
    answer = httpx.post(
        f"{process.url}/cases/{first.case_id}/ack",
        json={"version": seen["version"]},
        headers=anna,
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    process.wait_metric("v2v_cases_open", 1, **OOS, sla="acknowledged")
    assert process.metric("v2v_cases_open", **OOS, sla="breached") == 0
    assert process.metric("v2v_cases_open", **OOS) == 1  # one case, counted once

    page = httpx.get(f"{process.url}/cases/{first.case_id}", headers=anna, timeout=5).json()
    assert page["playbook_url"] == "docs/continuity.md#qc_out_of_spec"
    listed = httpx.get(f"{process.url}/cases?status=all", headers=anna, timeout=5).json()["cases"]
    assert {c["playbook_url"] for c in listed} == {
        f"docs/continuity.md#{c['code'].lower()}" for c in listed
    }

    # every events partition the worker reads has a lag figure, and it is caught up
    process.wait_metric("v2v_events_processed_total", sent + ticks, timeout_s=60)
    partitions = {str(p) for p in range(settings.topic_partitions)}
    assert wait_for(
        lambda: lag(process, topics.events) == dict.fromkeys(partitions, 0.0), timeout_s=60
    ), (lag(process, topics.events), process.tail())
