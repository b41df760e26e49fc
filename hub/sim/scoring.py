"""Scoring over seeds, offline: the simulated network through the flow core (:func:`run_offline`,
the worker's own decisions, no broker), once per seed, and the result summed per code.

``python -m hub.sim.scoring --seeds 20 --patients 50 --arrival realistic [--json FILE]``

Per code: pairs injected, detected and raised on the final case set (withdrawn cases do not
count), precision, recall; cases raised and later withdrawn on clean and on faulty chains with
how long they stayed open on the hub's clock; CRITICAL cases withdrawn on clean chains; cases
left open on clean chains. Seeds run in parallel worker processes (``--jobs``), each process
building and running its own scenarios; the exit code is 0 when every seed passed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.chain.findings import Severity
from hub.sim.arrival import ARRIVALS, REALISTIC
from hub.sim.offline import run_offline
from hub.sim.report import from_outcome
from hub.sim.scenario import build
from hub.sim.score import open_on_clean, score, timing_of, withdrawals


@dataclass
class SeedResult:
    """What one seed contributes, in plain values (it crosses a process boundary)."""

    seed: int
    messages: int
    passed: bool
    rows: dict[str, tuple[int, int, int]]  # code -> (injected, detected, raised)
    withdrawn: list[tuple[str, bool, bool, float | None]]  # code, clean, critical, hours open
    open_on_clean: dict[str, int]
    wall_s: float


def run_seed(seed: int, patients: int, arrival: str) -> SeedResult:
    began = time.monotonic()
    scenario = build(seed, patients, arrival=arrival)
    run = from_outcome(run_offline(scenario), 0.0)
    result = score(
        scenario.injections, run.cases, [f"{d.partner}:{d.code}" for d in run.dead_letters]
    )
    gone = withdrawals(scenario.injections, run.cases, run.first_detected)
    return SeedResult(
        seed=seed,
        messages=len(scenario.messages),
        passed=result.ok,
        rows={r.code: (r.injected, r.detected, r.raised) for r in result.codes},
        withdrawn=[(w.code, w.clean, w.severity is Severity.CRITICAL, w.open_h) for w in gone],
        open_on_clean=dict(open_on_clean(scenario.injections, run.cases)),
        wall_s=time.monotonic() - began,
    )


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _side_of(
    withdrawn: list[tuple[str, bool, bool, float | None]], clean: bool, critical: bool = False
) -> dict[str, Any]:
    """Count and hours open of the withdrawn cases on clean (or faulty) chains."""
    chosen = [w for w in withdrawn if w[1] is clean and (w[2] or not critical)]
    hours = [w[3] for w in chosen if w[3] is not None]
    return {"count": len(chosen), "open_h": _spread(hours)}


@dataclass
class Totals:
    """The seeds' results summed per code."""

    seeds: list[SeedResult] = field(default_factory=list)

    def codes(self) -> list[dict[str, Any]]:
        pairs: dict[str, list[int]] = {}
        for s in self.seeds:
            for code, row in s.rows.items():
                acc = pairs.setdefault(code, [0, 0, 0])
                for k in range(3):
                    acc[k] += row[k]
        withdrawn = [w for s in self.seeds for w in s.withdrawn]
        left = Counter[str]()
        for s in self.seeds:
            left.update(s.open_on_clean)
        rows = []
        for code in sorted(set(pairs) | {w[0] for w in withdrawn} | set(left)):
            injected, detected, raised = pairs.get(code, [0, 0, 0])
            mine = [w for w in withdrawn if w[0] == code]
            rows.append(
                {
                    "code": code,
                    "timing": timing_of(code),
                    "injected": injected,
                    "detected": detected,
                    "raised": raised,
                    "precision": _ratio(detected, raised),
                    "recall": _ratio(detected, injected),
                    "withdrawn_clean": _side_of(mine, clean=True),
                    "withdrawn_faulty": _side_of(mine, clean=False),
                    "critical_withdrawn_clean": _side_of(mine, clean=True, critical=True),
                    "open_on_clean": left.get(code, 0),
                }
            )
        return rows


def summary(totals: Totals, patients: int, arrival: str, wall_s: float) -> dict[str, Any]:
    seeds = totals.seeds
    return {
        "arrival": arrival,
        "patients": patients,
        "seeds": [s.seed for s in seeds],
        "messages": sum(s.messages for s in seeds),
        "seeds_passed": sum(1 for s in seeds if s.passed),
        "codes": totals.codes(),
        "wall_time_s": round(wall_s, 1),
        "seed_time_s": _spread([s.wall_s for s in seeds]),
    }


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _side(side: dict[str, Any]) -> str:
    hours = side["open_h"]
    return f"{side['count']:>4} {_fmt(hours['median'], '.1f'):>6}/{_fmt(hours['max'], '.1f'):<6}"


def render(report: dict[str, Any]) -> str:
    lines = [
        f"v2v scoring: {len(report['seeds'])} seeds x {report['patients']} patients, "
        f"{report['arrival']} arrival, {report['messages']} partner messages, offline flow core",
        "final case set (withdrawn cases do not count); INJ/DET/RAISED count (chain, code) "
        "pairs, the rest cases; withdrawn: count, hours open median/max (version 1 detected -> "
        "withdrawn)",
        f"{'CODE':<28} {'TIMING':<14} {'INJ':>4} {'DET':>4} {'RAISED':>6} {'PREC':>5} "
        f"{'REC':>5} | {'WDRN CLEAN':<18} | {'WDRN FAULTY':<18} | {'CRIT WDRN CLEAN':<18} | "
        "OPEN CLEAN",
    ]
    for row in report["codes"]:
        lines.append(
            f"{row['code']:<28} {row['timing'] or '-':<14} {row['injected']:>4} "
            f"{row['detected']:>4} {row['raised']:>6} {_fmt(row['precision']):>5} "
            f"{_fmt(row['recall']):>5} | {_side(row['withdrawn_clean'])} | "
            f"{_side(row['withdrawn_faulty'])} | {_side(row['critical_withdrawn_clean'])} | "
            f"{row['open_on_clean']:>4}"
        )
    rows = report["codes"]
    lines += [
        f"\ntotal: raised {sum(r['raised'] for r in rows)}, detected "
        f"{sum(r['detected'] for r in rows)} of {sum(r['injected'] for r in rows)} injected; "
        f"withdrawn on clean chains {sum(r['withdrawn_clean']['count'] for r in rows)} "
        f"(CRITICAL {sum(r['critical_withdrawn_clean']['count'] for r in rows)}), on faulty "
        f"chains {sum(r['withdrawn_faulty']['count'] for r in rows)}; cases left open on clean "
        f"chains {sum(r['open_on_clean'] for r in rows)}",
        f"seeds passed: {report['seeds_passed']}/{len(report['seeds'])}; wall time "
        f"{report['wall_time_s']:.1f}s (one seed: median "
        f"{report['seed_time_s']['median']}s, max {report['seed_time_s']['max']}s)",
    ]
    return "\n".join(lines)


def score_seeds(
    seeds: Sequence[int], patients: int, arrival: str, jobs: int
) -> tuple[dict[str, Any], bool]:
    began = time.monotonic()
    totals = Totals()
    if jobs <= 1:
        totals.seeds = [run_seed(seed, patients, arrival) for seed in seeds]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_seed, seed, patients, arrival) for seed in seeds]
            totals.seeds = [f.result() for f in futures]
    report = summary(totals, patients, arrival, time.monotonic() - began)
    return report, report["seeds_passed"] == len(seeds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.sim.scoring", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds (20)")
    parser.add_argument("--first-seed", type=int, default=1, help="first seed (1)")
    parser.add_argument("--patients", type=int, default=50, help="patients per network (50)")
    parser.add_argument("--arrival", choices=ARRIVALS, default=REALISTIC)
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (2)"
    )
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.patients < 1:
        print("error: --seeds and --patients must be at least 1", file=sys.stderr)
        return 2
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    report, passed = score_seeds(list(seeds), args.patients, args.arrival, args.jobs)
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"written to {args.json}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
