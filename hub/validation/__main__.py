"""``python -m hub.validation``: the validation report and the register check.

python -m hub.validation report RESULTS.json --out DIR [--register FILE]
    traceability matrix (HTML, CSV), validation summary report (HTML) and validation.json in
    DIR, from a results file written by ``pytest --validation-out RESULTS.json``
python -m hub.validation check [--register FILE]
    the register is valid and holds one requirement per exception code of the catalogue;
    prints an entry to start from for each code that has none

Exit status: 0 passed; 1 the gate failed (a high-risk requirement in force without passing
evidence, or an exception code without a requirement), each one named; 2 a file is missing or
invalid, or the results name requirement ids the register lacks.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hub.errors import ConfigurationError
from hub.settings import REPO_ROOT
from hub.validation.register import (
    RISK_ORDER,
    Register,
    catalogue_problems,
    catalogue_severities,
    load_register,
    missing_stubs,
)
from hub.validation.render import write_report
from hub.validation.results import RunRecord
from hub.validation.trace import Matrix, UnknownRequirementError, trace

DEFAULT_REGISTER = "docs/validation/requirements.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub.validation", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="write the validation report of a test run")
    report.add_argument("results", type=Path, help="results file of pytest --validation-out")
    report.add_argument("--out", type=Path, required=True, help="folder for the report files")
    report.add_argument("--register", type=Path, help="the register (default: the run's)")
    check = sub.add_parser("check", help="check the register against the exception catalogue")
    check.add_argument("--register", type=Path, default=REPO_ROOT / DEFAULT_REGISTER)
    return parser


def _summary(m: Matrix) -> str:
    outcomes = Counter(e.outcome for e in m.run.tests)
    tests = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    dirty = " (with uncommitted changes)" if m.run.dirty else ""
    lines = [
        f"validation: commit {m.run.commit}{dirty}",
        f"  tests: {len(m.run.tests)} ({tests or 'none'}); {len(m.unmarked)} claim no requirement",
    ]
    for risk in RISK_ORDER:
        traces = [t for t in m.traces if t.requirement.risk == risk]
        planned = sum(1 for t in traces if t.requirement.status == "planned")
        results = Counter(t.result for t in traces if t.requirement.status != "planned")
        counts = ", ".join(f"{n} {r}" for r, n in sorted(results.items()))
        lines.append(f"  {risk}-risk requirements: {len(traces)} ({counts}; {planned} planned)")
    lines.append(f"  deviations (failed tests): {len(m.deviations)}")
    return "\n".join(lines)


def _report(args: argparse.Namespace) -> int:
    run = RunRecord.read(args.results)
    register_file = args.register or REPO_ROOT / run.register_file
    register = load_register(register_file)
    problems = catalogue_problems(register, catalogue_severities())
    matrix = trace(register, run, problems)
    paths = write_report(matrix, args.out)
    print(_summary(matrix))
    print(f"  report: {paths[0]} (and {', '.join(p.name for p in paths[1:])})")
    if matrix.passes:
        print("validation gate passed: every high-risk requirement in force has passing evidence")
        return 0
    print("validation gate FAILED:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    for t in matrix.blocking:
        r = t.requirement
        print(f"  {r.id} (high risk) {r.title}: {t.why()}", file=sys.stderr)
    return 1


def _check(args: argparse.Namespace) -> int:
    register: Register = load_register(args.register)
    severities = catalogue_severities()
    problems = catalogue_problems(register, severities)
    print(
        f"{args.register}: {len(register.requirements)} requirements, "
        f"{len(register.sources)} source clauses, {len(severities)} exception codes"
    )
    if not problems:
        return 0
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    from hub.chain.catalogue import catalogue

    stubs = missing_stubs(
        register, ((e.code, e.severity.value, e.title, e.owner_role) for e in catalogue())
    )
    if stubs:
        print("entries to start from (add under requirements:):", file=sys.stderr)
        print(stubs, file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _report(args) if args.command == "report" else _check(args)
    except (ConfigurationError, UnknownRequirementError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
