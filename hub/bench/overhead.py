"""The audit trail's cost: the throughput phase again, in the same ``v2v bench`` run, on a worker
with the audit trail off (``V2V_AUDIT_ENABLED=false``), its own topics, the same workload.

Both events/s and the worker's CPU time per event are compared: on a machine shared with other
work, wall-clock throughput swings with the load; CPU time per event is the steadier figure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.bench.stats import rate
from hub.settings import Settings
from hub.topics import ensure_topics


@dataclass(frozen=True)
class AuditOverhead:
    events: int
    events_per_s_audit_on: float
    events_per_s_audit_off: float
    overhead: float  # share of throughput the audit trail costs (1 - on / off)
    cpu_us_per_event_audit_on: float
    cpu_us_per_event_audit_off: float
    cpu_overhead: float  # extra worker CPU per event (on / off - 1)
    audit_records: int  # records the audited worker wrote in its whole run


def audit_overhead(
    settings: Settings,
    cfg: object,
    workdir: Path,
    audited_rate: float,
    audited_cpu_us: float,
    audit_records: int,
    say: Callable[[str], None],
) -> AuditOverhead:
    """Chain set-up, then the throughput phase, on a worker without the audit trail."""
    from hub.bench.runner import BenchConfig, _clean, _Run, updates_for

    assert isinstance(cfg, BenchConfig)
    run = _Run(settings.model_copy(update={"audit_enabled": False}), cfg, workdir)
    try:
        ensure_topics(run.settings)
        worker, probe = run.start_worker("worker-audit-off")
        worker.wait_ready()
        began = time.monotonic()
        setup = run.send(run.workload.pickups())
        run.wait_processed(run.budget(setup))
        updates = updates_for(run.workload, cfg)
        events = sum(m.events for m in updates)
        began, cpu = time.monotonic(), probe.cpu_seconds()
        run.send(updates)
        seconds = run.wait_processed(run.budget(events)) - began
        cpu_us = (probe.cpu_seconds() - cpu) / events * 1e6 if events else float("nan")
    finally:
        if run.probe is not None:
            run.probe.close()
        if run.worker is not None:
            run.worker.stop()
        run.sender.close()
        if not cfg.keep:
            _clean(run)
    off = rate(events, seconds)
    say(
        f"audit off: {off:,.0f} events/s, {cpu_us:,.0f} us CPU/event "
        f"(on: {audited_rate:,.0f} events/s, {audited_cpu_us:,.0f} us)"
    )
    return AuditOverhead(
        events=events,
        events_per_s_audit_on=round(audited_rate, 1),
        events_per_s_audit_off=round(off, 1),
        overhead=round(1 - audited_rate / off, 4) if off else float("nan"),
        cpu_us_per_event_audit_on=round(audited_cpu_us, 1),
        cpu_us_per_event_audit_off=round(cpu_us, 1),
        cpu_overhead=round(audited_cpu_us / cpu_us - 1, 4) if cpu_us else float("nan"),
        audit_records=audit_records,
    )
