"""Scoring: the cases a hub raised against the ground truth of the injected faults.

The final case set is the latest version of every case; a case the hub withdrew (evidence that
arrived later disproved it: ``CaseStatus.WITHDRAWN``) does not count as raised. Per code:
precision and recall over (chain, code) pairs - a pair is expected when the chain's injection
lists the code, raised when at least one case of that code stands on the chain - and the
detection latency in simulated time (the first standing case's ``opened_at`` minus the
injection time). Clean chains must raise nothing; dead letters must be exactly the malformed
messages. :func:`withdrawals` lists the cases raised and later withdrawn, with how long each
stayed open on the hub's clock.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hub.cases.models import Case, CaseStatus
from hub.chain.catalogue import lookup
from hub.chain.findings import Severity
from hub.partners.health import is_feed_key
from hub.sim.faults import Injection


@dataclass(frozen=True)
class CodeScore:
    code: str
    injected: int
    detected: int
    raised: int
    precision: float | None
    recall: float | None
    latency_h: tuple[float, ...]

    @property
    def median_latency_h(self) -> float | None:
        return statistics.median(self.latency_h) if self.latency_h else None


@dataclass(frozen=True)
class Score:
    codes: tuple[CodeScore, ...]
    clean_chains: int
    noisy_clean: tuple[str, ...]
    missed: tuple[tuple[str, str], ...]
    unexpected: tuple[tuple[str, str], ...]
    dead_expected: tuple[str, ...]
    dead_got: tuple[str, ...]

    @property
    def dead_ok(self) -> bool:
        return Counter(self.dead_expected) == Counter(self.dead_got)

    @property
    def ok(self) -> bool:
        return not (self.missed or self.unexpected or self.noisy_clean) and self.dead_ok


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score(
    injections: Iterable[Injection], cases: Iterable[Case], dead_letters: Iterable[str]
) -> Score:
    """``dead_letters`` are ``partner:CODE`` of the records on the dead-letter topic. A partner
    feed's cases (key ``partner:<id>``) are no chain's: the ground truth has nothing to say
    about them and they are not scored."""
    truth = {i.coi: i for i in injections}
    expected = {(i.coi, code) for i in truth.values() for code in i.codes}
    first: dict[tuple[str, str], datetime] = {}
    for case in cases:
        if case.status is CaseStatus.WITHDRAWN or is_feed_key(case.coi_id):
            continue
        key = (case.coi_id, case.code)
        if key not in first or case.opened_at < first[key]:
            first[key] = case.opened_at
    raised = set(first)
    codes = sorted({c for _, c in expected} | {c for _, c in raised})
    rows = []
    for code in codes:
        want = {k for k in expected if k[1] == code}
        got = {k for k in raised if k[1] == code}
        hits = want & got
        latency = tuple(sorted((first[k] - truth[k[0]].at).total_seconds() / 3600 for k in hits))
        rows.append(
            CodeScore(
                code, len(want), len(hits), len(got), _ratio(len(hits), len(got)),
                _ratio(len(hits), len(want)), latency,
            )
        )  # fmt: skip
    clean = [i.coi for i in truth.values() if not i.codes]
    noisy = tuple(sorted(coi for coi in clean if any(k[0] == coi for k in raised)))
    return Score(
        codes=tuple(rows),
        clean_chains=len(clean),
        noisy_clean=noisy,
        missed=tuple(sorted(expected - raised)),
        unexpected=tuple(sorted(raised - expected)),
        dead_expected=tuple(sorted(d for i in truth.values() for d in i.dead_letters)),
        dead_got=tuple(sorted(dead_letters)),
    )


@dataclass(frozen=True)
class Withdrawal:
    """A case the hub raised and later withdrew. ``open_h``: its withdrawal (``resolved_at``)
    minus when it was first detected (version 1's ``detected_at``; the latest version's
    ``opened_at``, an event time, when version 1 was not seen: ``since`` says which)."""

    code: str
    coi: str
    severity: Severity
    clean: bool
    open_h: float | None
    since: str
    timing: str | None  # the rule's timing in the catalogue, when the catalogue has one


def timing_of(code: str) -> str | None:
    """``alarm-at-once`` or ``after-lateness`` where the catalogue declares a rule's timing."""
    try:
        timing = getattr(lookup(code), "timing", None)
    except KeyError:
        return None
    return None if timing is None else str(timing)


def withdrawals(
    injections: Iterable[Injection],
    cases: Iterable[Case],
    first_detected: Mapping[str, datetime],
) -> tuple[Withdrawal, ...]:
    """The withdrawn cases among ``cases`` (latest versions); ``first_detected`` maps a case id
    to its version 1's ``detected_at``."""
    clean = {i.coi for i in injections if not i.codes}
    out: list[Withdrawal] = []
    for case in cases:
        if case.status is not CaseStatus.WITHDRAWN:
            continue
        since = "detected_at v1" if case.case_id in first_detected else "opened_at"
        start = first_detected.get(case.case_id, case.opened_at)
        hours = (case.resolved_at - start).total_seconds() / 3600 if case.resolved_at else None
        out.append(
            Withdrawal(
                case.code, case.coi_id, case.severity, case.coi_id in clean, hours, since,
                timing_of(case.code),
            )
        )  # fmt: skip
    return tuple(sorted(out, key=lambda w: (w.code, w.coi)))


def open_on_clean(injections: Iterable[Injection], cases: Iterable[Case]) -> Counter[str]:
    """Cases still open (not resolved, not withdrawn) on clean chains, by code."""
    clean = {i.coi for i in injections if not i.codes}
    return Counter(c.code for c in cases if c.coi_id in clean and not c.status.closed)
