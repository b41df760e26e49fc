"""The run report, the same for the offline and the live runner: as a JSON-able dict and as text."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.cases.models import Case, CaseStatus
from hub.chain.findings import Severity
from hub.replay.diff import brief
from hub.sim.offline import DeadLetter, Outcome
from hub.sim.scenario import Scenario
from hub.sim.score import Score, Withdrawal, open_on_clean, score, withdrawals

COLLECTED, INFUSED = "COLLECTION_COMPLETED", "INFUSION_COMPLETED"


@dataclass
class RunResult:
    """What a run observed: latest case versions, escalations, dead letters, chain stages."""

    mode: str
    cases: list[Case]
    escalations: int
    dead_letters: list[DeadLetter]
    stages: dict[str, str]
    milestones: dict[str, dict[str, datetime]]
    wall_s: float = 0.0
    first_detected: dict[str, datetime] = field(default_factory=dict)
    """Case id -> version 1's ``detected_at`` (when the hub first raised it)."""


def first_detections(versions: Iterable[Case]) -> dict[str, datetime]:
    """Case id -> ``detected_at`` of its lowest version seen."""
    first: dict[str, Case] = {}
    for case in versions:
        if case.case_id not in first or case.version < first[case.case_id].version:
            first[case.case_id] = case
    return {case_id: case.detected_at for case_id, case in first.items()}


def from_outcome(outcome: Outcome, wall_s: float) -> RunResult:
    return RunResult(
        mode="offline",
        cases=list(outcome.cases.values()),
        escalations=len({e.escalation_id for e in outcome.escalations}),
        dead_letters=list(outcome.dead_letters),
        stages={coi: s.stage for coi, s in outcome.states.items()},
        milestones={coi: dict(s.milestones) for coi, s in outcome.states.items()},
        wall_s=wall_s,
        first_detected=first_detections(outcome.versions),
    )


def _days(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "min": None, "max": None}
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return {
        "median": round(statistics.median(values), 2),
        "p90": round(p90, 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def withdrawn_summary(items: Iterable[Withdrawal]) -> dict[str, Any]:
    """Withdrawn cases per code, on clean and on faulty chains (count, hours open), and the
    CRITICAL ones on clean chains one by one."""
    listed = list(items)
    by_code: dict[str, dict[str, Any]] = {}
    for code in sorted({w.code for w in listed}):
        mine = [w for w in listed if w.code == code]
        by_code[code] = {
            "timing": mine[0].timing,
            "critical": sum(1 for w in mine if w.severity is Severity.CRITICAL),
            **{
                side: {
                    "count": len(group),
                    "open_h": _hours([w.open_h for w in group if w.open_h is not None]),
                }
                for side, group in (
                    ("clean", [w for w in mine if w.clean]),
                    ("faulty", [w for w in mine if not w.clean]),
                )
            },
        }
    return {
        "total": len(listed),
        "open_time_from": sorted({w.since for w in listed}),
        "by_code": by_code,
        "critical_on_clean": [
            {"code": w.code, "coi": w.coi, "open_h": _round(w.open_h), "timing": w.timing}
            for w in listed
            if w.clean and w.severity is Severity.CRITICAL
        ],
    }


def build_report(scenario: Scenario, run: RunResult) -> tuple[dict[str, Any], Score]:
    result = score(
        scenario.injections, run.cases, [f"{d.partner}:{d.code}" for d in run.dead_letters]
    )
    withdrawn = withdrawals(scenario.injections, run.cases, run.first_detected)
    v2v: list[float] = []
    for chain in scenario.chains:
        ms = run.milestones.get(chain.coi, {})
        if COLLECTED in ms and INFUSED in ms:
            v2v.append((ms[INFUSED] - ms[COLLECTED]).total_seconds() / 86400)
    by_code: dict[str, list[Case]] = {}
    for case in run.cases:
        by_code.setdefault(case.code, []).append(case)
    latency = {row.code: row for row in result.codes}
    report: dict[str, Any] = {
        "mode": run.mode,
        "arrival": scenario.arrival,
        "seed": scenario.seed,
        "patients": len(scenario.chains),
        "simulated": {
            "start": scenario.start.isoformat(),
            "end": scenario.horizon.isoformat(),
            "hours": int((scenario.horizon - scenario.start).total_seconds() // 3600),
        },
        "messages": dict(Counter(m.partner for m in scenario.messages).most_common()),
        "chains": {
            "total": len(scenario.chains),
            "completed": sum(1 for c in scenario.chains if run.stages.get(c.coi) == "INFUSED"),
            "stages": dict(Counter(run.stages.get(c.coi, "-") for c in scenario.chains)),
            "v2v_days": _days(v2v),
        },
        "cases": {
            "total": len(run.cases),
            "withdrawn": len(withdrawn),
            "list": sorted(
                (brief(c) for c in run.cases), key=lambda c: (c["coi_id"], c["code"], c["subject"])
            ),
            "by_code": {
                code: {
                    "count": len(items),
                    "withdrawn": sum(1 for c in items if c.status is CaseStatus.WITHDRAWN),
                    "median_latency_h": _round(
                        latency[code].median_latency_h if code in latency else None
                    ),
                }
                for code, items in sorted(by_code.items())
            },
        },
        "withdrawn": withdrawn_summary(withdrawn),
        "open_on_clean_chains": dict(sorted(open_on_clean(scenario.injections, run.cases).items())),
        "escalations": run.escalations,
        "dead_letters": [
            {"partner": d.partner, "code": d.code, "step": d.step, "coi": d.coi, "reason": d.reason}
            for d in run.dead_letters
        ],
        "scores": [
            {
                "code": row.code,
                "injected": row.injected,
                "detected": row.detected,
                "raised": row.raised,
                "precision": _round(row.precision),
                "recall": _round(row.recall),
                "median_latency_h": _round(row.median_latency_h),
                "max_latency_h": _round(max(row.latency_h)) if row.latency_h else None,
            }
            for row in result.codes
        ],
        "injections": [
            {
                "coi": i.coi,
                "fault": i.fault,
                "codes": list(i.codes),
                "at": i.at.isoformat(),
                "how": i.how,
            }
            for i in scenario.injections
            if i.codes or i.dead_letters
        ],
        "clean_chains": result.clean_chains,
        "clean_chains_with_cases": list(result.noisy_clean),
        "missed": [list(k) for k in result.missed],
        "unexpected": [list(k) for k in result.unexpected],
        "dead_letters_expected": list(result.dead_expected),
        "dead_letters_ok": result.dead_ok,
        "wall_time_s": round(run.wall_s, 1),
        "passed": result.ok,
    }
    return report, result


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def render_text(report: dict[str, Any]) -> str:
    chains, v2v = report["chains"], report["chains"]["v2v_days"]
    lines = [
        f"\n== v2v {report['mode']} run ({report['arrival']} arrival): seed {report['seed']}, "
        f"{report['patients']} patients, "
        f"{report['simulated']['hours']} simulated hours "
        f"({report['simulated']['start'][:10]} .. {report['simulated']['end'][:10]})",
        "messages: "
        + ", ".join(f"{p} {n}" for p, n in report["messages"].items())
        + f" (total {sum(report['messages'].values())})",
        f"chains completed: {chains['completed']}/{chains['total']} "
        f"(stages: {', '.join(f'{k} {v}' for k, v in sorted(chains['stages'].items()))})",
        f"vein-to-vein days: median {_fmt(v2v['median'])}, p90 {_fmt(v2v['p90'])} "
        f"(min {_fmt(v2v['min'])}, max {_fmt(v2v['max'])})",
        f"cases: {report['cases']['total']} (withdrawn by the hub: "
        f"{report['cases']['withdrawn']})    escalations: {report['escalations']} "
        "(level 1 and re-escalations of cases nobody acknowledged, in simulated time)",
        f"dead-lettered: {len(report['dead_letters'])}",
    ]
    lines += [
        f"  [{d['code']}] {d['partner']} {d['step']} ({d['coi']}): {d['reason'][:90]}"
        for d in report["dead_letters"]
    ]
    lines.append(
        "\ncases by code (final set: withdrawn cases do not count; latency: case opened_at - "
        "injection time, simulated hours) and detection against the ground truth:"
    )
    lines.append(
        f"{'CODE':<28} {'CASES':>5} {'WDRN':>4} {'INJECTED':>8} {'DETECTED':>8} "
        f"{'PRECISION':>9} {'RECALL':>6}  LATENCY median / max"
    )
    counts = report["cases"]["by_code"]
    codes = {row["code"]: row for row in report["scores"]}
    for code in sorted(set(codes) | set(counts)):
        row, count = codes.get(code), counts.get(code, {})
        if row is None:  # only withdrawn cases of this code, or a partner feed's (not scored)
            row = {"injected": 0, "detected": 0, "precision": None, "recall": None}
        lines.append(
            f"{code:<28} {count.get('count', 0):>5} {count.get('withdrawn', 0):>4} "
            f"{row['injected']:>8} {row['detected']:>8} "
            f"{_fmt(row['precision']):>9} {_fmt(row['recall']):>6}  "
            f"{_fmt(row.get('median_latency_h'), '.1f'):>6} / "
            f"{_fmt(row.get('max_latency_h'), '.1f')}"
        )
    lines += render_withdrawn(report["withdrawn"])
    if report["open_on_clean_chains"]:
        left = ", ".join(f"{k} {v}" for k, v in report["open_on_clean_chains"].items())
        lines.append(f"cases left open on clean chains: {left}")
    lines.append(
        f"\nclean chains: {report['clean_chains']}, with a case: "
        f"{len(report['clean_chains_with_cases'])}"
    )
    for label in ("missed", "unexpected", "clean_chains_with_cases"):
        if report[label]:
            lines.append(f"{label}: {report[label]}")
    if not report["dead_letters_ok"]:
        lines.append(f"dead letters expected: {report['dead_letters_expected']}")
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines.append(f"\n{report['mode']} run {verdict} in {report['wall_time_s']:.1f}s wall time")
    return "\n".join(lines)


def _span(side: dict[str, Any]) -> str:
    hours = side["open_h"]
    return f"{_fmt(hours['median'], '.1f'):>7} / {_fmt(hours['max'], '.1f'):<6}"


def render_withdrawn(summary: dict[str, Any]) -> list[str]:
    """The withdrawn cases' lines of the text report."""
    if not summary["total"]:
        return ["\nraised and later withdrawn: none"]
    lines = [
        f"\nraised and later withdrawn: {summary['total']} (hours open, from "
        f"{' / '.join(summary['open_time_from'])} to withdrawal)",
        f"{'CODE':<28} {'TIMING':<15} {'CLEAN':>5} {'OPEN median/max':>16} {'FAULTY':>6} "
        f"{'OPEN median/max':>16} {'CRIT':>4}",
    ]
    for code, row in summary["by_code"].items():
        clean, faulty = row["clean"], row["faulty"]
        lines.append(
            f"{code:<28} {row['timing'] or '-':<15} {clean['count']:>5} {_span(clean)} "
            f"{faulty['count']:>6} {_span(faulty)} {row['critical']:>4}"
        )
    for w in summary["critical_on_clean"]:
        lines.append(
            f"  CRITICAL withdrawn on clean chain {w['coi']}: {w['code']} "
            f"({w['timing'] or 'timing not declared'}), open {_fmt(w['open_h'], '.1f')} h"
        )
    return lines
