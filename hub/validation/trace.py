"""Traceability: requirement -> tests -> result, and the gate on high-risk requirements.

A requirement's result over one run:

* ``pass``: at least one of its tests passed and none failed;
* ``fail``: one of its tests failed or errored (a deviation);
* ``not covered``: no test of the run passed for it (none is marked, or they were skipped,
  deselected or expected to fail).

The gate: every high-risk requirement that is not ``planned`` must ``pass``. Planned
requirements (the feature is not built yet) are reported with their result but never gate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hub.validation.register import Register, Requirement
from hub.validation.results import FAILING, Evidence, RunRecord

Result = Literal["pass", "fail", "not covered"]


class UnknownRequirementError(ValueError):
    """The results name requirement ids the register does not hold."""


@dataclass(frozen=True)
class Trace:
    requirement: Requirement
    tests: tuple[Evidence, ...]

    @property
    def counts(self) -> Counter[str]:
        return Counter(t.outcome for t in self.tests)

    @property
    def result(self) -> Result:
        if any(t.outcome in FAILING for t in self.tests):
            return "fail"
        if any(t.outcome == "passed" for t in self.tests):
            return "pass"
        return "not covered"

    @property
    def gates(self) -> bool:
        """Whether this requirement is held to the gate (high risk, not planned)."""
        return self.requirement.risk == "high" and self.requirement.status != "planned"

    @property
    def blocks(self) -> bool:
        return self.gates and self.result != "pass"

    def why(self) -> str:
        counts = self.counts
        if self.result == "fail":
            bad = counts["failed"] + counts["error"]
            return f"{bad} failing test{'s' if bad != 1 else ''}"
        if not self.tests:
            return "no test is marked for it"
        return "no passing test (" + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) + ")"


@dataclass(frozen=True)
class Matrix:
    register: Register
    run: RunRecord
    traces: tuple[Trace, ...]
    register_problems: tuple[str, ...] = ()
    """Where the register and the exception catalogue disagree (a code without a
    requirement...): gaps that fail the gate like an uncovered high-risk requirement."""

    @property
    def passes(self) -> bool:
        return not self.blocking and not self.register_problems

    @property
    def blocking(self) -> tuple[Trace, ...]:
        return tuple(t for t in self.traces if t.blocks)

    @property
    def deviations(self) -> tuple[Evidence, ...]:
        return tuple(t for t in self.run.tests if t.outcome in FAILING)

    @property
    def unmarked(self) -> tuple[Evidence, ...]:
        return tuple(t for t in self.run.tests if not t.requirements)

    def uncovered(self, *, planned: bool) -> tuple[Trace, ...]:
        return tuple(
            t
            for t in self.traces
            if t.result != "pass" and (t.requirement.status == "planned") == planned
        )


def trace(register: Register, run: RunRecord, register_problems: Sequence[str] = ()) -> Matrix:
    """Every requirement of the register with the run's tests that claim it.

    :class:`UnknownRequirementError` when a test claims an id the register lacks (the register
    changed after the run, or the results come from another checkout).
    """
    known = register.ids
    unknown = sorted(
        {f"{rid} (in {t.nodeid})" for t in run.tests for rid in t.requirements if rid not in known}
    )
    if unknown:
        raise UnknownRequirementError(
            "the results name requirement ids that are not in the register: " + ", ".join(unknown)
        )
    by_req: dict[str, list[Evidence]] = {rid: [] for rid in known}
    for test in run.tests:
        for rid in test.requirements:
            by_req[rid].append(test)
    traces = tuple(Trace(r, tuple(by_req[r.id])) for r in register.requirements)
    return Matrix(register, run, traces, tuple(register_problems))
