"""Redis is a projection: when it loses the hub's keys, the worker projects every chain and case
again from its chain table, and the HTTP reads show them again."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from connectors.conformance import sample_files
from hub.sim.stack import Feeder
from hub.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-A11-CONTINUITY")]

COI = "V2VSAMPLE000001T"


def open_case_ids(worker, headers: dict[str, str]) -> set[str]:
    answer = httpx.get(f"{worker.url}/cases", headers=headers, timeout=5)
    assert answer.status_code == 200
    return {c["case_id"] for c in answer.json()["cases"]}


def until(read, timeout_s: float = 60.0):
    """``read()`` once it returns something, polling the worker's read model."""
    deadline = time.monotonic() + timeout_s
    while not (value := read()):
        assert time.monotonic() < deadline, "the read model never showed it"
        time.sleep(0.1)
    return value


def test_a_redis_that_lost_every_key_is_rebuilt_from_the_chain_table(
    hub_settings, worker, tokens
) -> None:
    topics = Topics.of(hub_settings)
    reader = tokens.headers("au-alex", "auditor")
    hold = next(p for p in sample_files("courier") if p.name.startswith("05")).read_bytes()
    at = datetime.fromisoformat(json.loads(hold)["event_time"]).astimezone(UTC)
    with Feeder(hub_settings) as feeder:
        feeder.send(
            topics.raw["courier"], [(COI.encode(), hold, None)], at=at + timedelta(minutes=1)
        )
    worker.wait_metric("v2v_cases_opened_total", 1, code="CUSTOMS_HOLD")
    worker.wait_metric("v2v_projection_rebuilt_total", 0)  # the metric exists
    client = redis.Redis.from_url(hub_settings.redis_url)
    prefix = f"{hub_settings.redis_key_prefix}:{hub_settings.topic_prefix}:"
    try:
        shown = until(lambda: open_case_ids(worker, reader))  # read model fed by the cases topic
        before = worker.metric("v2v_projection_rebuilt_total")
        keys = list(client.scan_iter(match=prefix + "*"))
        assert keys
        client.delete(*keys)  # Redis restarted without persistence
        assert open_case_ids(worker, reader) == set()
        worker.wait_metric("v2v_projection_rebuilt_total", before + 1, timeout_s=60)
        assert open_case_ids(worker, reader) == shown
        chain = httpx.get(f"{worker.url}/chains/{COI}", headers=reader, timeout=5)
        assert chain.status_code == 200
        assert set(chain.json()["open_cases"]) == shown
    finally:
        client.close()
