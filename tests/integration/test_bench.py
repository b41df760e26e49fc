"""``v2v bench`` on the real stack with tiny sizes: every phase runs and reports sane figures.

No timing assertions: speed is what the benchmark prints, not what a test checks."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import redis
from confluent_kafka.admin import AdminClient

from hub.bench import BenchConfig, run_bench

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-NFR-PERFORMANCE")]

TINY = replace(
    BenchConfig.quick(), chains=40, messages=40, rows=5, rate=200.0, duration_s=3.0, holds=8
)


def test_bench_reports_every_figure_and_cleans_up(hub_settings, tmp_path) -> None:
    report = run_bench(hub_settings, TINY, tmp_path, progress=False)
    path = tmp_path / "report.json"
    report.write(path)
    data = json.loads(path.read_text())

    t = data["throughput"]
    assert t["messages"] == TINY.messages
    assert t["events"] == TINY.messages * TINY.rows  # the first pass: one export per chain
    assert t["chain_setup_events"] == 3 * TINY.chains
    for name in (
        "events_per_s",
        "baseline_events_per_s",
        "baseline_model_events_per_s",
        "ratio",
        "worker_cpu_us_per_event",
        "chain_setup_events_per_s",
    ):
        assert t[name] > 0, name

    lat = data["latency"]
    assert lat["case_messages"] == TINY.holds
    assert lat["samples"] == TINY.holds  # every customs hold raised its case, once
    assert lat["events"] >= TINY.rate * TINY.duration_s
    assert lat["achieved_events_per_s"] > 0
    assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert 0 < lat["p50_to_event_ms"] <= lat["p99_to_event_ms"]

    mem = data["memory"]
    assert mem["chains"] == TINY.chains
    assert 0 < mem["rss_idle_mb"] <= mem["rss_active_mb"] <= mem["rss_end_mb"]
    assert math.isfinite(mem["rss_per_10k_chains_mb"])

    rs = data["restart"]
    assert rs["state_recovered"] is True
    assert 0 < rs["ready_s"] <= rs["resume_s"]
    assert rs["changelog_writes"] >= TINY.chains

    assert {t["name"] for t in data["targets"]} == {
        "throughput vs baseline",
        "p99 detection latency",
        "RSS with 10k active chains",
        "restart recovery",
    }
    assert "TARGETS" in report.table()

    # the run's own topics and read models are gone
    prefix = data["run"]["topic_prefix"]
    admin = AdminClient({"bootstrap.servers": hub_settings.kafka_bootstrap_servers})
    left = [n for n in admin.list_topics(timeout=10).topics if n.startswith(f"{prefix}.")]
    assert left == []
    client = redis.Redis.from_url(hub_settings.redis_url)
    try:
        pattern = f"{hub_settings.redis_key_prefix}:{prefix}:*"
        assert list(client.scan_iter(match=pattern, count=1000)) == []
    finally:
        client.close()
