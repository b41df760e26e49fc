"""The run report, the same for the offline and the live runner: as a JSON-able dict and as text."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.cases.models import Case
from hub.replay.diff import brief
from hub.sim.offline import DeadLetter, Outcome
from hub.sim.scenario import Scenario
from hub.sim.score import Score, score

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
    stand_ins: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def from_outcome(outcome: Outcome, wall_s: float) -> RunResult:
    return RunResult(
        mode="offline",
        cases=list(outcome.cases.values()),
        escalations=len({e.escalation_id for e in outcome.escalations}),
        dead_letters=list(outcome.dead_letters),
        stages={coi: s.stage for coi, s in outcome.states.items()},
        milestones={coi: dict(s.milestones) for coi, s in outcome.states.items()},
        stand_ins=dict(outcome.bridged),
        wall_s=wall_s,
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


def build_report(scenario: Scenario, run: RunResult) -> tuple[dict[str, Any], Score]:
    result = score(
        scenario.injections, run.cases, [f"{d.partner}:{d.code}" for d in run.dead_letters]
    )
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
            "list": sorted(
                (brief(c) for c in run.cases), key=lambda c: (c["coi_id"], c["code"], c["subject"])
            ),
            "by_code": {
                code: {
                    "count": len(items),
                    "median_latency_h": _round(latency[code].median_latency_h),
                }
                for code, items in sorted(by_code.items())
            },
        },
        "escalations": run.escalations,
        "dead_letters": [
            {"partner": d.partner, "code": d.code, "step": d.step, "coi": d.coi, "reason": d.reason}
            for d in run.dead_letters
        ],
        "stand_ins": run.stand_ins,
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
        f"\n== v2v {report['mode']} run: seed {report['seed']}, {report['patients']} patients, "
        f"{report['simulated']['hours']} simulated hours "
        f"({report['simulated']['start'][:10]} .. {report['simulated']['end'][:10]})",
        "messages: "
        + ", ".join(f"{p} {n}" for p, n in report["messages"].items())
        + f" (total {sum(report['messages'].values())})",
        f"chains completed: {chains['completed']}/{chains['total']} "
        f"(stages: {', '.join(f'{k} {v}' for k, v in sorted(chains['stages'].items()))})",
        f"vein-to-vein days: median {_fmt(v2v['median'])}, p90 {_fmt(v2v['p90'])} "
        f"(min {_fmt(v2v['min'])}, max {_fmt(v2v['max'])})",
        f"cases: {report['cases']['total']}    escalations: {report['escalations']} "
        "(level 1; re-escalation runs on the wall clock)",
        f"dead-lettered: {len(report['dead_letters'])}",
    ]
    lines += [
        f"  [{d['code']}] {d['partner']} {d['step']} ({d['coi']}): {d['reason'][:90]}"
        for d in report["dead_letters"]
    ]
    if report["stand_ins"]:
        used = ", ".join(f"{k} {v}" for k, v in sorted(report["stand_ins"].items()))
        lines.append(f"stand-ins for missing hub capabilities (hub/sim/bridge.py): {used}")
    lines.append(
        "\ncases by code (latency: case opened_at - injection time, simulated hours) and "
        "detection against the ground truth:"
    )
    lines.append(
        f"{'CODE':<28} {'CASES':>5} {'INJECTED':>8} {'DETECTED':>8} {'PRECISION':>9} "
        f"{'RECALL':>6}  LATENCY median / max"
    )
    counts = report["cases"]["by_code"]
    for row in report["scores"]:
        cases = counts.get(row["code"], {}).get("count", 0)
        lines.append(
            f"{row['code']:<28} {cases:>5} {row['injected']:>8} {row['detected']:>8} "
            f"{_fmt(row['precision']):>9} {_fmt(row['recall']):>6}  "
            f"{_fmt(row['median_latency_h'], '.1f'):>6} / {_fmt(row['max_latency_h'], '.1f')}"
        )
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
