"""``v2v bench``: one run on the real stack, phase by phase, against a worker child process.

1. setup     own topics (``bench.<run>.*``), app id, web port and Redis keys; a ``v2v run``
             worker; its idle VmRSS.
2. chains    every chain's pick-up and departure (the shipment links to the COI).
3. throughput  ``messages`` raw messages (logger exports + courier statuses) sent at once;
             events/s from the first send until the chain agent applied the last event.
4. baseline  the canonical events of those messages through a plain consume -> decode ->
             produce loop (:mod:`hub.bench.baseline`), timed the same way.
5. memory    the worker's VmRSS with every chain active, against the idle figure.
6. latency   ``rate`` events/s offered for ``duration`` s, ``holds`` of the messages customs
             holds; latency = the case record's timestamp minus the raw record's produce time.
7. restart   the worker is stopped and a new one started with the same app id: time until
             /ready, and until an event of an existing chain is applied on the recovered state.
8. audit     (``audit_compare``) phases 2-3 again on a worker with the audit trail off
             (:mod:`hub.bench.overhead`): the audit trail's cost in events/s.

Topics, the worker's data directory and Redis keys of the run are removed afterwards unless
``keep`` is set. Wall-clock ticks are off (deadlines would fire on simulated event times).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Consumer, TopicPartition

from hub.bench.baseline import canonical_events, create_topics, produce_events, run_baseline
from hub.bench.feed import RawSender, WorkerProbe
from hub.bench.overhead import audit_overhead
from hub.bench.report import Latency, Memory, Report, Restart, Throughput
from hub.bench.stats import per_10k, percentile, rate
from hub.bench.workload import BenchMessage, Workload, bench_coi
from hub.cases.models import Case
from hub.events.models import Event
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import Settings
from hub.sim.stack import TopicReader, WorkerProcess, free_port
from hub.topics import Topics, drop_topics, ensure_topics

log = logging.getLogger("v2v.bench")
CASES = SingleObjectWireFormat(codec_for(Case))
EVENTS = SingleObjectWireFormat(codec_for(Event))
HOLD = "CUSTOMS_HOLD"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one run. ``events`` (if set) sizes the throughput phase by canonical events
    instead of ``messages``."""

    chains: int = 10_000
    messages: int = 3_000
    events: int | None = None
    rows: int = 20
    rate: float = 1_000.0
    duration_s: float = 30.0
    holds: int = 300
    restart: bool = True
    keep: bool = False
    audit_compare: bool = False

    @classmethod
    def quick(cls) -> BenchConfig:
        """CI-sized: well under a minute on two cores."""
        return cls(chains=200, messages=200, rows=10, rate=300.0, duration_s=5.0, holds=20)

    def validate(self) -> None:
        if self.chains < 1 or self.messages < 0 or self.rows < 1:
            raise ValueError("chains and rows must be >= 1, messages >= 0")
        if not 0 < self.holds <= self.chains:
            raise ValueError("holds must be between 1 and chains (one customs hold per chain)")
        if self.rate <= 0 or self.duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        if self.holds > self.rate * self.duration_s:
            raise ValueError("more holds than events offered in the latency phase")


class _Run:
    """State shared by the phases of one run."""

    def __init__(self, base: Settings, cfg: BenchConfig, workdir: Path) -> None:
        self.cfg = cfg
        self.id = uuid.uuid4().hex[:8]
        self.workdir = workdir / self.id
        self.settings = base.model_copy(
            update={
                "topic_prefix": f"bench.{self.id}",
                "app_id": f"v2v-bench-{self.id}",
                "web_port": free_port(),
                "web_enabled": True,
                "tick_interval_s": 0.0,
                "partners": ["courier", "logger"],
                "data_dir": self.workdir / "faust",
            }
        )
        self.topics = Topics.of(self.settings)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        self.workload = Workload(cfg.chains, cfg.rows, start)
        self.sent_events = Counter[str]()  # COI -> events sent
        self.processed_target = 0
        self.worker: WorkerProcess | None = None
        self.probe: WorkerProbe | None = None
        self.sender = RawSender(self.settings)

    def close(self) -> None:
        """Stop what the run started; drop its topics, keys and data unless ``keep``."""
        if self.probe is not None:
            self.probe.close()
        if self.worker is not None:
            self.worker.stop()
        self.sender.close()
        if not self.cfg.keep:
            _clean(self)

    def send(self, messages: list[BenchMessage]) -> int:
        events = 0
        for message in messages:
            self.sender.send(message)
            self.sent_events[message.coi_id] += message.events
            events += message.events
        self.sender.flush()
        self.processed_target += events
        return events

    def start_worker(self, name: str) -> tuple[WorkerProcess, WorkerProbe]:
        worker = WorkerProcess(self.settings, self.workdir / f"{name}.log").start()
        self.worker, self.probe = worker, WorkerProbe(worker)
        return worker, self.probe

    def wait_processed(self, budget_s: float) -> float:
        assert self.probe is not None
        return self.probe.wait_processed(self.processed_target, budget_s)

    def budget(self, events: int) -> float:
        """A generous timeout: 100 events/s would be a broken worker, not a slow one."""
        return 120.0 + events / 100.0


def run_bench(settings: Settings, cfg: BenchConfig, workdir: Path, progress: bool = True) -> Report:
    """Run every phase; returns the report (targets checked). Raises on a broken run (a
    rejected message, a worker that stops processing, missing cases)."""
    cfg.validate()
    run = _Run(settings, cfg, workdir)

    def say(text: str) -> None:
        if progress:
            print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)

    report = Report(
        run={
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "topic_prefix": run.settings.topic_prefix,
            "app_id": run.settings.app_id,
            "kafka": run.settings.kafka_bootstrap_servers,
            "cpus": os.cpu_count(),
            "config": asdict(cfg),
            "worker_log": str(run.workdir / "worker.log"),
        }
    )
    try:
        ensure_topics(run.settings)
        worker, probe = run.start_worker("worker")
        worker.wait_ready()
        time.sleep(2.0)  # let start-up allocations settle before the idle figure
        rss_idle = probe.rss()
        say(
            f"worker ready (pid {worker.process.pid if worker.process else '?'}), "
            f"idle RSS {rss_idle / 1e6:.0f} MB; creating {cfg.chains:,} chains"
        )

        began = time.monotonic()
        setup_events = run.send(run.workload.pickups())
        setup_s = run.wait_processed(run.budget(setup_events)) - began
        say(f"{setup_events:,} chain set-up events in {setup_s:.1f} s")

        updates = updates_for(run.workload, cfg)
        events = sum(m.events for m in updates)
        say(f"throughput: {len(updates):,} messages, {events:,} events")
        began, cpu = time.monotonic(), probe.cpu_seconds()
        run.send(updates)
        seconds = run.wait_processed(run.budget(events)) - began
        cpu = probe.cpu_seconds() - cpu
        _no_rejections(probe)
        rss_active = probe.rss()
        audit_records = int(worker.metric("v2v_audit_records_total"))
        say(f"hub: {rate(events, seconds):,.0f} events/s; RSS {rss_active / 1e6:.0f} MB")

        say("baseline: normalising the same messages offline and producing their events")
        base_avro, base_model = _baseline(run, updates, events)
        say(f"baseline: {base_avro:,.0f} events/s (avro), {base_model:,.0f} events/s (model)")
        hub_rate = rate(events, seconds)
        report.throughput = Throughput(
            messages=len(updates),
            events=events,
            seconds=round(seconds, 3),
            events_per_s=round(hub_rate, 1),
            baseline_events_per_s=round(base_avro, 1),
            baseline_model_events_per_s=round(base_model, 1),
            ratio=round(hub_rate / base_avro, 4) if base_avro else math.nan,
            worker_cpu_us_per_event=round(cpu / events * 1e6, 1) if events else math.nan,
            chain_setup_events=setup_events,
            chain_setup_events_per_s=round(rate(setup_events, setup_s), 1),
        )
        per_chain = (setup_events + events) / cfg.chains
        report.memory = Memory(
            chains=cfg.chains,
            events_per_chain=round(per_chain, 1),
            rss_idle_mb=_mb(rss_idle),
            rss_active_mb=_mb(rss_active),
            rss_per_10k_chains_mb=round(per_10k(rss_active - rss_idle, cfg.chains), 1),
            rss_at_10k_chains_mb=round(
                _mb(rss_idle) + per_10k(rss_active - rss_idle, cfg.chains), 1
            ),
            rss_end_mb=math.nan,
        )

        say(
            f"latency: {cfg.rate:,.0f} events/s offered for {cfg.duration_s:.0f} s, "
            f"{cfg.holds} customs holds"
        )
        report.latency = _latency(run, say)
        report.memory = replace(report.memory, rss_end_mb=_mb(probe.rss()))
        _no_rejections(probe)

        if cfg.restart:
            say(f"restart: stopping the worker with {cfg.chains:,} chains")
            report.restart = _restart(run)
            say(
                f"restart: ready after {report.restart.ready_s:.1f} s, resumed after "
                f"{report.restart.resume_s:.1f} s"
            )
        if cfg.audit_compare:
            say("audit overhead: chain set-up and throughput again, audit trail off")
            cpu_us = report.throughput.worker_cpu_us_per_event
            report.audit = audit_overhead(
                settings, cfg, workdir, hub_rate, cpu_us, audit_records, say
            )
    finally:
        run.close()
    report.check_targets()
    return report


def updates_for(workload: Workload, cfg: BenchConfig) -> list[BenchMessage]:
    """The throughput phase's messages: ``messages`` of them, or as many as it takes to reach
    ``events`` canonical events in the whole run (chain set-up included)."""
    if cfg.events is None:
        return workload.updates(cfg.messages)
    setup = 3 * cfg.chains  # pick-up (2 events) + departure (1) per chain
    out: list[BenchMessage] = []
    total = setup
    while total < cfg.events:
        batch = workload.updates(min(1_000, max(1, (cfg.events - total) // cfg.rows)))
        out.extend(batch)
        total += sum(m.events for m in batch)
    return out


def _baseline(run: _Run, updates: list[BenchMessage], events: int) -> tuple[float, float]:
    source = run.settings.topic("bench-baseline.in")
    sinks = [
        run.settings.topic("bench-baseline.out-avro"),
        run.settings.topic("bench-baseline.out-model"),
    ]
    create_topics(run.settings, [source, *sinks])
    produced = produce_events(run.settings, source, canonical_events(run.settings, updates))
    if produced != events:
        raise RuntimeError(f"baseline input has {produced} events, the hub was sent {events}")
    avro = run_baseline(run.settings, source, sinks[0], events, "avro")
    model = run_baseline(run.settings, source, sinks[1], events, "model")
    return avro.events_per_s, model.events_per_s


def schedule(workload: Workload, cfg: BenchConfig) -> Iterator[tuple[float, BenchMessage]]:
    """The latency phase as (offset in seconds, message), offsets never decreasing: regular
    messages at ``rate`` events/s (holds included), the holds spread evenly over the phase,
    each on its own chain."""
    total = int(cfg.rate * cfg.duration_s)
    hold_at = [(i + 0.5) * cfg.duration_s / cfg.holds for i in range(cfg.holds)]
    stride = max(1, cfg.chains // cfg.holds)
    hold_chains = [(i * stride) % cfg.chains for i in range(cfg.holds)]
    offered = 0
    h = 0
    while offered < total:
        due = offered / cfg.rate
        while h < cfg.holds and hold_at[h] <= due:
            yield hold_at[h], workload.hold(hold_chains[h])
            offered += 1
            h += 1
        message = workload.updates(1)[0]
        yield due, message
        offered += message.events
    for rest in range(h, cfg.holds):
        yield hold_at[rest], workload.hold(hold_chains[rest])


def _latency(run: _Run, say: Any) -> Latency:
    cfg = run.cfg
    sent_at: dict[str, int] = {}  # COI -> produce time (ms) of its hold
    events = 0
    plan = list(schedule(run.workload, cfg))
    phase_ms = int(time.time() * 1000)
    with TopicReader(run.settings, run.topics.cases) as cases:
        began = time.monotonic()
        for due, message in plan:
            wait = began + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            stamp = run.sender.send(message)
            run.sent_events[message.coi_id] += message.events
            events += message.events
            if message.raises_case:
                sent_at[message.coi_id] = stamp
        run.sender.flush()
        sent_s = time.monotonic() - began
        run.processed_target += events
        finished = run.wait_processed(run.budget(events))
        drain_s = max(0.0, finished - (began + sent_s))

        def opened(records: list[Any]) -> bool:
            return _hold_cases(records, sent_at) >= len(sent_at)

        if not cases.poll_until(opened, timeout_s=60):
            say(f"only {_hold_cases(cases.records, sent_at)} of {len(sent_at)} holds raised a case")
        latencies: list[float] = []
        evidence: dict[str, str] = {}  # event id of the hold -> COI
        for record in cases.records:
            case = CASES.decode(record.value())
            if case.code != HOLD or case.version != 1 or case.coi_id not in sent_at:
                continue
            if case.coi_id in evidence.values() or not case.evidence_event_ids:
                continue
            evidence[case.evidence_event_ids[0]] = case.coi_id
            produced = sent_at[case.coi_id]
            latencies.append(record.timestamp()[1] - produced)
    stamps = _event_stamps(run.settings, run.topics.events, phase_ms, evidence)
    normalised = [stamps[e] - sent_at[coi] for e, coi in evidence.items() if e in stamps]
    return Latency(
        offered_events_per_s=cfg.rate,
        achieved_events_per_s=round(rate(events, sent_s), 1),
        duration_s=round(sent_s, 2),
        events=events,
        case_messages=len(sent_at),
        samples=len(latencies),
        p50_ms=round(percentile(latencies, 50), 1),
        p99_ms=round(percentile(latencies, 99), 1),
        max_ms=round(max(latencies, default=math.nan), 1),
        p50_to_event_ms=round(percentile(normalised, 50), 1),
        p99_to_event_ms=round(percentile(normalised, 99), 1),
        drain_s=round(drain_s, 2),
    )


def _event_stamps(
    settings: Settings, topic: str, since_ms: int, wanted: dict[str, str], timeout_s: float = 60
) -> dict[str, int]:
    """Timestamps of the canonical events ``wanted`` (event id -> COI, the record key) on the
    events topic, reading from ``since_ms`` on."""
    keys = {coi.encode() for coi in wanted.values()}
    found: dict[str, int] = {}
    consumer = Consumer(
        {
            **settings.kafka_config(),
            "group.id": f"{settings.app_id}-probe",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, since_ms) for p in meta.partitions], timeout=10
        )
        consumer.assign([tp for tp in starts if tp.offset >= 0])
        deadline = time.monotonic() + timeout_s
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is not None or msg.key() not in keys:
                    continue
                event = EVENTS.decode(msg.value() or b"")
                if event.event_id in wanted:
                    found[event.event_id] = msg.timestamp()[1]
    finally:
        consumer.close()
    return found


def _hold_cases(records: list[Any], sent_at: dict[str, int]) -> int:
    cois = set()
    for record in records:
        case = CASES.decode(record.value())
        if case.code == HOLD and case.version == 1 and case.coi_id in sent_at:
            cois.add(case.coi_id)
    return len(cois)


def _restart(run: _Run, timeout_s: float = 300.0) -> Restart:
    assert run.worker is not None
    assert run.probe is not None
    run.probe.close()
    run.worker.stop()
    changelog = _changelog_writes(run.settings)
    chain = 0
    coi = bench_coi(chain)
    expected = run.sent_events[coi] + 1
    client = redis.Redis.from_url(run.settings.redis_url)
    key = f"{run.settings.redis_key_prefix}:{run.settings.topic_prefix}:chain:{coi}"
    try:
        began = time.monotonic()
        worker, _ = run.start_worker("worker-restarted")
        worker.wait_ready(timeout_s=timeout_s)
        ready = time.monotonic() - began
        message = run.workload.status(chain)
        run.sender.send(message)
        run.sender.flush()
        count = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            raw = client.get(key)
            if raw is not None:
                count = int(json.loads(raw)["event_count"])
                if count >= expected:
                    break
            time.sleep(0.05)
        resumed = time.monotonic() - began
    finally:
        client.close()
    return Restart(
        chains=run.cfg.chains,
        changelog_writes=changelog,
        ready_s=round(ready, 2),
        resume_s=round(resumed, 2),
        state_recovered=count == expected,
    )


def _changelog_writes(settings: Settings) -> int:
    topic = f"{settings.app_id}-chains-changelog"
    consumer = Consumer({**settings.kafka_config(), "group.id": f"{settings.app_id}-probe"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return -1
        total = 0
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _no_rejections(probe: WorkerProbe) -> None:
    rejected = probe.rejected()
    if rejected:
        raise RuntimeError(f"the worker dead-lettered {rejected} benchmark messages")


def _clean(run: _Run) -> None:
    """Drop the run's topics, Redis keys and worker data (all unique to this run)."""
    try:
        drop_topics(run.settings)
    except Exception as exc:  # cleaning up must not hide the run's own outcome
        log.warning("could not delete the run's topics: %s", exc)
    try:
        client = redis.Redis.from_url(run.settings.redis_url)
        pattern = f"{run.settings.redis_key_prefix}:{run.settings.topic_prefix}:*"
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
        client.close()
    except redis.RedisError as exc:
        log.warning("could not delete the run's Redis keys: %s", exc)
    shutil.rmtree(run.workdir / "faust", ignore_errors=True)


def _mb(value: int) -> float:
    return round(value / 1e6, 1)
