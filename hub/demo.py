"""``v2v demo``: a simulated vein-to-vein network through the real stack, scored.

About 50 patients across three clinics, one manufacturer and two couriers (``hub.sim``), every
exception code of the catalogue injected at least once, clean chains beside them and two
malformed messages, all as native partner messages (FHIR, SAP IDoc/OData, B2MML, LIMS, QMS,
courier webhooks, logger CSV, EPCIS), delivered as partners really deliver them by default
(``arrival="realistic"``, :mod:`hub.sim.arrival`: latency per feed, batch jobs, retries,
resends, a few records beyond allowed lateness) or a few minutes after each fact, in order
(``"ordered"``). A ``v2v run`` worker with every connector processes them
on its own topics while simulated time runs hour by hour (the barrier technique of
:mod:`hub.sim.live`). The report shows the chains, vein-to-vein times, cases by code with their
detection latency in simulated time, escalations, dead letters and precision / recall per code
against the ground truth; the exit code is non-zero if an injected fault was missed, a clean
chain raised a case or the dead letters differ from the malformed messages sent.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from hub.errors import DeliveryError
from hub.replay.record import record_topics
from hub.settings import REPO_ROOT, Settings
from hub.sim.arrival import REALISTIC
from hub.sim.live import collect, feed
from hub.sim.offline import Outcome, outline, run_offline
from hub.sim.report import RunResult, build_report, render_text
from hub.sim.scenario import Scenario, build
from hub.sim.stack import WorkerProcess, free_port
from hub.topics import ensure_topics

DEFAULT_PATIENTS = 50
DEFAULT_SEED = 7


def run_demo(
    settings: Settings,
    verbose: bool = False,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    report: Path | None = None,
    faults: Sequence[str] | None = None,
    record: Path | None = None,
    arrival: str = REALISTIC,
    audit_out: Path | None = None,
    serve: bool = False,
) -> int:
    """Run the demo on the real stack; 0 when every injected fault was detected exactly. With
    ``serve`` the worker (and its console) keeps running after the report until Ctrl-C."""
    began = time.monotonic()
    if patients < 1:
        print("error: the network needs at least one patient", file=sys.stderr)
        return 2
    try:
        scenario = build(seed, patients, faults, settings.profile_dir, arrival)
    except ValueError as exc:  # an unknown fault name or arrival
        print(f"error: {exc}", file=sys.stderr)
        return 2
    injected = {chain.injection.fault for chain in scenario.chains}
    for name in sorted(set(faults or ()) - injected):
        print(f"note: no patient of this network fits fault {name}; not injected")
    key = settings.pseudonym_secret()
    plan = run_offline(
        scenario, settings.profile_dir, settings.escalation_policy_file, key, settings.partner_dir
    )
    run = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    demo = settings.model_copy(
        update={
            "topic_prefix": f"v2vdemo.{run}",
            "app_id": f"v2v-demo-{run}",
            "tick_interval_s": 0.0,
            # served: the configured port (V2V_WEB_PORT), for a URL people can keep
            "web_port": settings.web_port if serve else free_port(),
            "partners": [],  # every partner of the registry
        }
    )
    hours = int((scenario.horizon - scenario.start).total_seconds() // 3600)
    print(
        f"v2v demo: {patients} patients (seed {seed}), {len(scenario.messages)} partner messages "
        f"over {hours} simulated hours ({arrival} arrival); topics {demo.topic_prefix}.*, "
        f"Kafka {demo.kafka_bootstrap_servers}, Redis {demo.redis_url}",
        flush=True,
    )
    ensure_topics(demo)
    worker = WorkerProcess(demo, REPO_ROOT / ".local" / "logs" / f"demo-{run}.log").start()
    keep = False
    try:
        worker.wait_ready()
        print(f"worker ready after {time.monotonic() - began:.1f}s (log: {worker.log_path})")
        try:
            events, dlq = feed(demo, scenario, plan)
        except DeliveryError as exc:
            print(f"\ndemo FAILED: {exc}\n{worker.tail()}", file=sys.stderr)
            return 1
        events.close()
        result = collect(demo, scenario, plan, dlq, lambda: time.monotonic() - began)
        dlq.close()
        if record is not None:
            with record.open("w", encoding="utf-8") as out:
                count = record_topics(demo, out)
            print(f"recorded {count} partner messages to {record} (v2v replay --tick 1h)")
        audit_ok = audit_out is None or _audit(demo, worker, plan, audit_out)
        keep = serve
    finally:
        if not keep:
            worker.stop()
    summary, score = build_report(scenario, result)
    print(render_text(summary))
    if verbose:
        _details(scenario, result)
    if report is not None:
        report.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"report written to {report}")
    code = 0 if score.ok and audit_ok else 1
    if keep:
        _serve(demo, worker)
    return code


def _serve(settings: Settings, worker: WorkerProcess) -> None:
    """Keep the worker and its console up until Ctrl-C (or until the worker stops)."""
    print(f"\nconsole: {worker.url}/console (worker log: {worker.log_path})")
    if settings.dev_mode:
        print(
            "sign in (development identity provider): any user id, a printed name and a role, "
            "e.g. user qa-quinn, name Quinn Adler, role qa (may acknowledge release cases with "
            "a signature); or paste a token from\n"
            "  v2v auth dev-token --user qa-quinn --role qa --name 'Quinn Adler'"
        )
    else:
        print("sign in with a bearer token from your identity provider")
    print("Ctrl-C stops the worker", flush=True)

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and a TERM (a service manager, docker stop), even when started in the background
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        while worker.process is not None and worker.process.poll() is None:
            time.sleep(1)
        print(f"the worker stopped; see {worker.log_path}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping the worker", flush=True)
    finally:
        worker.stop()


def _audit(settings: Settings, worker: WorkerProcess, plan: Outcome, out: Path) -> bool:
    """Export the run's audit trail to ``out`` and verify it; True when it verifies."""
    from hub.audit.cli import verify_trail
    from hub.audit.keys import load_private
    from hub.audit.topic import export

    try:  # every record the offline run made, acknowledged by Kafka
        worker.wait_metric("v2v_audit_records_total", plan.audit_records, timeout_s=120)
    except TimeoutError:
        print(f"note: fewer audit records than the offline run's {plan.audit_records}")
    trail, size = export(settings, out)
    verdict = verify_trail(trail, load_private(settings.audit_key_path).public_key())
    live: dict[str, list[str]] = {}
    for record in trail.records:
        live.setdefault(str(record.get("chain")), []).append(outline(record))
    same = sum(1 for coi, lines in plan.audit_outline.items() if live.get(coi) == lines)
    # Feeds arrive concurrently live: a chain may take the same records in another order.
    reordered = sum(
        1
        for coi, lines in plan.audit_outline.items()
        if live.get(coi) != lines and _taken(live.get(coi, [])) == _taken(lines)
    )
    print(
        f"\naudit trail: {len(trail.records)} records, {len(trail.config)} configuration "
        f"records, {len(trail.checkpoints)} checkpoints, {size:,} bytes in {out}\n"
        f"  {verdict.summary()}\n"
        f"  {same} of {len(plan.audit_outline)} chains have the same records as the offline run, "
        f"{reordered} the same records in another order (feeds arrive concurrently live)"
    )
    for problem in verdict.problems[:20]:
        print(f"  PROBLEM {problem}")
    return verdict.ok


def _taken(outline: list[str]) -> list[str]:
    """What a chain took, whatever the order: kind, action and id of each record."""
    return sorted(" ".join(line.split()[1:4]) for line in outline)


def _details(scenario: Scenario, result: RunResult) -> None:
    """Every chain's fault with the codes it raised, then every case."""
    raised: dict[str, set[str]] = {}
    for case in result.cases:
        raised.setdefault(case.coi_id, set()).add(case.code)
    print(f"\n{'CHAIN':<18} {'CLINIC/PROFILE':<19} {'STAGE':<15} {'FAULT':<28} RAISED")
    for chain in scenario.chains:
        codes = ", ".join(sorted(raised.get(chain.coi, ()))) or "-"
        print(
            f"{chain.coi:<18} {chain.clinic + '/' + chain.profile:<19} "
            f"{result.stages.get(chain.coi, '-'):<15} {chain.injection.fault:<28} {codes}"
        )
    print()
    for case in sorted(result.cases, key=lambda c: (c.code, c.coi_id)):
        print(f"  [{case.severity.value}] {case.code} on {case.coi_id}: {case.summary}")
