"""The benchmark's pure parts: percentile maths, /proc and Prometheus parsing, the message
generators (deterministic, and exactly as eventful as the hub will find them), the latency
schedule and the report. No broker."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connectors.base import ConnectorConfig, RawMessage
from connectors.registry import get_connector
from hub.bench.overhead import AuditOverhead
from hub.bench.report import Latency, Memory, Report, Restart, Throughput
from hub.bench.runner import BenchConfig, schedule, updates_for
from hub.bench.stats import (
    metric_total,
    per_10k,
    percentile,
    proc_cpu_seconds,
    rate,
    vm_rss_bytes,
)
from hub.bench.workload import BenchMessage, Workload, bench_coi
from hub.chain.engine import apply, new_chain
from hub.chain.profiles import load_profiles
from hub.chain.state import ChainState
from hub.cli import build_parser
from hub.events.identifiers import validate_coi
from hub.settings import Settings

pytestmark = pytest.mark.req("REQ-NFR-PERFORMANCE")

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


# --- percentiles and parsing ---------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile([1, 2, 3, 4], 99) == pytest.approx(3.97)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.5], 99) == 7.5


def test_percentile_of_nothing_is_nan_and_q_must_be_a_percentage() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], -1)


def test_rates_and_scaling() -> None:
    assert rate(1000, 2.0) == 500.0
    assert rate(1000, 0.0) == 0.0
    assert per_10k(50_000_000, 5_000) == 100.0  # 50 MB for 5k chains -> 100 MB per 10k
    assert math.isnan(per_10k(1, 0))


def test_metric_total_sums_matching_samples() -> None:
    text = "\n".join(
        [
            "# HELP v2v_events_processed_total Events applied by the chain agent",
            "# TYPE v2v_events_processed_total counter",
            'v2v_events_processed_total{event_type="TEMPERATURE_READING"} 40.0',
            'v2v_events_processed_total{event_type="CLOCK_TICK"} 4.0',
            'v2v_events_processed_total{event_type="SHIPMENT_STATUS"} 2.0',
            'v2v_events_processed_created{event_type="SHIPMENT_STATUS"} 1.7e+09',
            'v2v_raw_rejected_total{code="NOT_JSON",partner="courier"} 1.0',
        ]
    )
    assert metric_total(text, "v2v_events_processed_total") == 46.0
    assert metric_total(text, "v2v_events_processed_total", event_type="CLOCK_TICK") == 4.0
    assert metric_total(text, "v2v_raw_rejected_total", partner="courier") == 1.0
    assert metric_total(text, "v2v_raw_rejected_total", partner="logger") == 0.0


def test_proc_parsing() -> None:
    status = "Name:\tpython\nVmPeak:\t  500000 kB\nVmRSS:\t  123456 kB\nThreads:\t5\n"
    assert vm_rss_bytes(status) == 123456 * 1024
    with pytest.raises(ValueError, match="VmRSS"):
        vm_rss_bytes("Name:\tkthreadd\n")
    # the command name may hold spaces and parentheses; fields count from the last ')'
    stat = "4242 (python (v2v) run) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3"
    assert proc_cpu_seconds(stat, 100) == 3.0


# --- message generators ----------------------------------------------------------------------


def _run_all(messages: list[BenchMessage]) -> list[str]:
    """Normalise ``messages`` as the hub would and apply their events to their chains: checks
    each message's event count and returns the findings' codes."""
    settings = Settings()
    profile = load_profiles(settings.profile_dir)["default"]
    config = ConnectorConfig(pseudonym_key=b"test-key")
    connectors = {p: get_connector(p, config) for p in ("courier", "logger")}
    states: dict[str, ChainState] = {}
    codes: list[str] = []
    for message in messages:
        raw = RawMessage(message.partner, message.value, message.received_at, message.content_type)
        result = connectors[message.partner].process(raw)
        assert result.rejection is None, result.rejection
        assert len(result.events) == message.events
        for event in result.events:
            assert event.coi_id in (None, message.coi_id)
            event = event.model_copy(update={"coi_id": message.coi_id})
            state = states.get(message.coi_id) or new_chain(message.coi_id)
            states[message.coi_id], findings = apply(state, event, profile)
            codes += [f.code for f in findings]
    return codes


def test_the_same_workload_gives_the_same_bytes() -> None:
    def make() -> list[BenchMessage]:
        w = Workload(chains=5, rows=3, start=START)
        return [*w.pickups(), *w.updates(12), w.hold(2), w.status(1)]

    first, second = make(), make()
    assert first == second
    later = Workload(chains=5, rows=3, start=START.replace(hour=9))
    assert later.pickups()[0].value != first[0].value


def test_messages_are_keyed_by_shipment_and_carry_valid_cois() -> None:
    w = Workload(chains=3, rows=2, start=START)
    pickups = w.pickups()
    assert [m.coi_id for m in pickups] == [bench_coi(n) for n in range(3) for _ in range(2)]
    assert {validate_coi(m.coi_id) for m in pickups} == {bench_coi(n) for n in range(3)}
    assert pickups[0].key == b"SHP-BENCH-0"
    assert json.loads(pickups[0].value)["status_code"] == "13"
    assert json.loads(pickups[1].value)["status_code"] == "24"


def test_updates_go_round_robin_mostly_logger_exports() -> None:
    w = Workload(chains=4, rows=20, start=START, status_every=4)
    w.pickups()
    messages = w.updates(16)
    assert [m.coi_id for m in messages[:5]] == [bench_coi(n) for n in (0, 1, 2, 3, 0)]
    kinds = Counter(m.partner for m in messages)
    assert kinds == {"logger": 12, "courier": 4}  # every 4th message of a chain is a status
    assert sum(m.events for m in messages) == 12 * 20 + 4


def test_only_the_customs_holds_raise_anything() -> None:
    w = Workload(chains=6, rows=15, start=START)
    messages = [*w.pickups(), *w.updates(40), w.hold(1), w.hold(4), *w.updates(10)]
    assert [m.raises_case for m in messages].count(True) == 2
    assert sorted(_run_all(messages)) == ["CUSTOMS_HOLD", "CUSTOMS_HOLD"]


def test_workload_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="chains"):
        Workload(chains=0, rows=1, start=START)
    with pytest.raises(ValueError, match="timezone"):
        Workload(chains=1, rows=1, start=datetime(2026, 1, 1))


# --- phases' plans ---------------------------------------------------------------------------


def test_latency_schedule_offers_the_rate_with_every_hold_on_its_own_chain() -> None:
    cfg = BenchConfig(chains=50, rows=10, rate=200.0, duration_s=5.0, holds=20)
    w = Workload(cfg.chains, cfg.rows, START)
    w.pickups()
    plan = list(schedule(w, cfg))
    offsets = [t for t, _ in plan]
    assert offsets == sorted(offsets)
    assert offsets[0] >= 0
    assert offsets[-1] < cfg.duration_s
    holds = [m for _, m in plan if m.raises_case]
    assert len(holds) == cfg.holds
    assert len({m.coi_id for m in holds}) == cfg.holds
    offered = sum(m.events for _, m in plan)
    assert cfg.rate * cfg.duration_s <= offered < cfg.rate * cfg.duration_s + cfg.rows


def test_a_run_sized_by_events_reaches_them() -> None:
    cfg = BenchConfig(chains=10, rows=20, events=2_000)
    w = Workload(cfg.chains, cfg.rows, START)
    setup = sum(m.events for m in w.pickups())
    messages = updates_for(w, cfg)
    total = setup + sum(m.events for m in messages)
    assert cfg.events is not None
    assert cfg.events <= total < cfg.events + 1_000 * cfg.rows
    by_messages = updates_for(Workload(3, 5, START), BenchConfig(chains=3, messages=7))
    assert len(by_messages) == 7


def test_config_validation_and_quick_sizes() -> None:
    BenchConfig.quick().validate()
    BenchConfig().validate()
    with pytest.raises(ValueError, match="holds"):
        BenchConfig(chains=10, holds=11).validate()
    with pytest.raises(ValueError, match="rate"):
        BenchConfig(rate=0).validate()


def test_cli_knows_the_bench_options() -> None:
    args = build_parser().parse_args(
        ["bench", "--quick", "--chains", "50", "--rate", "500", "--report", "out.json"]
    )
    assert (args.quick, args.chains, args.rate, str(args.report)) == (True, 50, 500.0, "out.json")
    assert args.fn.__name__ == "_bench"


# --- report ----------------------------------------------------------------------------------


def _report(p99_ms: float, samples: int = 10) -> Report:
    report = Report(run={"started_at": "2026-11-24T00:00:00+00:00", "config": {"chains": 10}})
    report.throughput = Throughput(
        messages=10,
        events=100,
        seconds=1.0,
        events_per_s=100.0,
        baseline_events_per_s=1000.0,
        baseline_model_events_per_s=500.0,
        ratio=0.1,
        worker_cpu_us_per_event=900.0,
        chain_setup_events=30,
        chain_setup_events_per_s=300.0,
    )
    report.latency = Latency(
        offered_events_per_s=1000.0,
        achieved_events_per_s=999.0,
        duration_s=1.0,
        events=1000,
        case_messages=10,
        samples=samples,
        p50_ms=50.0,
        p99_ms=p99_ms,
        max_ms=p99_ms,
        p50_to_event_ms=math.nan,
        p99_to_event_ms=20.0,
        drain_s=0.1,
    )
    report.memory = Memory(
        chains=10,
        events_per_chain=10.0,
        rss_idle_mb=100.0,
        rss_active_mb=101.0,
        rss_per_10k_chains_mb=1000.0,
        rss_at_10k_chains_mb=1100.0,
        rss_end_mb=102.0,
    )
    report.restart = Restart(
        chains=10, changelog_writes=20, ready_s=3.0, resume_s=3.5, state_recovered=True
    )
    report.check_targets()
    return report


def test_targets_say_met_or_missed_and_by_how_much() -> None:
    targets = {t.name: t for t in _report(p99_ms=100.0).targets}
    assert not targets["throughput vs baseline"].met
    assert "short by 20.0%" in targets["throughput vs baseline"].margin
    assert targets["p99 detection latency"].met
    assert targets["p99 detection latency"].margin == "150 ms to spare"
    assert not targets["RSS with 10k active chains"].met
    assert "over by 600 MB" in targets["RSS with 10k active chains"].margin
    assert targets["restart recovery"].met
    missed = {t.name: t for t in _report(p99_ms=500.0).targets}["p99 detection latency"]
    assert not missed.met
    assert missed.margin == "over by 250 ms (2.0x the goal)"
    # a latency figure over fewer samples than holds sent is no pass
    assert not {t.name: t for t in _report(100.0, samples=9).targets}["p99 detection latency"].met
    assert "extrapolated from 10 chains" in targets["RSS with 10k active chains"].margin


def test_latency_at_a_lower_load_than_the_targets_is_not_judged() -> None:
    report = _report(p99_ms=10.0)
    assert report.latency is not None
    report.latency = replace(report.latency, offered_events_per_s=300.0)
    report.check_targets()
    target = {t.name: t for t in report.targets}["p99 detection latency"]
    assert not target.met
    assert target.margin == "not judged: offered 300 events/s"


def test_report_json_has_no_nan_and_the_table_every_section(tmp_path) -> None:
    report = _report(p99_ms=100.0)
    report.audit = AuditOverhead(
        events=100,
        events_per_s_audit_on=90.0,
        events_per_s_audit_off=100.0,
        overhead=0.1,
        cpu_us_per_event_audit_on=990.0,
        cpu_us_per_event_audit_off=900.0,
        cpu_overhead=0.1,
        audit_records=130,
    )
    path = tmp_path / "report.json"
    report.write(path)
    data = json.loads(path.read_text())
    assert data["latency"]["p50_to_event_ms"] is None
    assert set(data) == {"run", "throughput", "latency", "memory", "restart", "audit", "targets"}
    assert data["audit"]["cpu_overhead"] == 0.1
    table = report.table()
    for section in ("THROUGHPUT", "DETECTION LATENCY", "MEMORY", "RESTART", "AUDIT", "TARGETS"):
        assert section in table
    assert "+10.0%" in table
