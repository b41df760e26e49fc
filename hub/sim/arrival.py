"""How partner messages reach the hub: per-feed latency, batching, retries and resends
(DOMAIN.md section 5a), the ``realistic`` arrival of :func:`hub.sim.scenario.build`.

A journey's facts carry the time each partner sends its message (``received`` in the
``ordered`` arrival: a few minutes after the fact). :func:`arrive` re-times them, seeded, as
the partners' systems deliver them (delays are added to that send time, never subtracted):

========  =================================================================================
feed      delivery
========  =================================================================================
courier   webhook: 88 % first try, seconds (lognormal, median 3 s, at most 2 min); 12 %
          retried with backoff 1, 2, 4 ... 32 min, delivered after 1-6 retries (1-63 min);
          half the retried ones do not hold up the courier's later webhooks, which may
          overtake them (the one reordering within a feed); 5 % sent twice
          (acknowledgement lost: the same bytes 1-16 min later)
fhir      one feed per source system (orders, apheresis, LD, pharmacy thaw, bedside
          infusion): interface engine, lognormal median 4 min, at most 90 min; the thaw is
          documented after the bedside round in 30 % of chains (+20-70 min), so thaw and
          infusion arrive in either order; 1 % resent
logger    hourly uploads (as built) + 0-3 min; an upload is missed (no coverage) with 8 %,
          then 50 % while the outage lasts, its readings going with the next upload; 40 % of
          the shipments whose whole series fits the profile's reading lateness are read out
          on arrival instead (one export 5-35 min after the final upload would have gone);
          2 % of uploads resent
sap       batch jobs: process orders every 60 min, batch master 30, deliveries 15, usage
          decisions 30 (phase per network); 5 % of runs fail and wait for the next; a run
          sends 1-5 min after it starts; 3 % IDocs resent by the next run
lims      end-of-run exports: the lab's runs last 40-80 min back to back; all results of a
          run are exported together 2-10 min after it ends; 3 % of exports re-run (same
          file, 10-60 min later)
mes       middleware: lognormal median 90 s, at most 10 min; 4 % queued behind a backlog
          (+15-60 min); 1 % resent
qms       notification job every 10 min, sends 0-2 min after it starts; 1 % resent
epcis     subscription query every 30 min, 0-1 min; 2 % documents resent
========  =================================================================================

Guarantees: no message is received before the partner sent it; each feed of a chain keeps its
order (a duplicate may arrive after later messages of its feed: it is a copy, and its first
copy kept the order), but for a retried courier webhook that does not hold up the feed; every
record stays within the profile's allowed lateness for its event
types (:meth:`~hub.chain.profiles.ProductProfile.late_sla`), clamped where a draw would exceed
it, and a record the ordered arrival already sends beyond it is not delayed further; except the
one record of an ``overdue`` chain (:class:`Overdue`), which is sent 30 min to 4 h beyond.
Read-out on arrival fits only profiles whose reading lateness exceeds the transit: with 240
min and lanes of 6 h or more, only ``cart-fresh-48h`` (720 min for readings) qualifies.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hub.chain.profiles import ProductProfile
from hub.events.models import EventType as T
from hub.sim.facts import (
    CourierStatus,
    EpcisDocument,
    Fact,
    FhirCollection,
    FhirOrder,
    FhirProcedure,
    LimsExport,
    LoggerExport,
    MesPerformance,
    MesReceipt,
    QmsDeviation,
    QmsReview,
    SapBatch,
    SapDelivery,
    SapOrder,
    SapUsageDecision,
)
from hub.sim.network import rng_for

ORDERED, REALISTIC = "ordered", "realistic"
ARRIVALS = (ORDERED, REALISTIC)
S, M = timedelta(seconds=1), timedelta(minutes=1)
MARGIN = M  # kept between a clamped record and its lateness limit
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_SAP_EVERY: dict[type[Fact], int] = {
    SapOrder: 60, SapBatch: 30, SapDelivery: 15, SapUsageDecision: 30,
}  # fmt: skip
_RESEND = {
    "courier": 0.05, "fhir": 0.01, "logger": 0.02, "sap": 0.03, "lims": 0.03, "mes": 0.01,
    "qms": 0.01, "epcis": 0.02,
}  # fmt: skip


@dataclass(frozen=True)
class Delivery:
    """One delivery of a partner message: ``fact`` as the partner wrote it, ``received`` when
    the hub's edge gets it; ``resend`` marks a second copy (the same bytes)."""

    fact: Fact
    received: datetime
    resend: bool = False


@dataclass(frozen=True)
class Overdue:
    """The record an overdue chain receives beyond its allowed lateness."""

    step: str
    partner: str
    occurred: datetime
    received: datetime
    sla: timedelta

    @property
    def how(self) -> str:
        hours = (self.received - self.occurred).total_seconds() / 3600
        return (
            f"the {self.partner} interface fails for record {self.step}; it is re-sent by hand "
            f"{hours:.1f} h after the fact, beyond the allowed lateness "
            f"({self.sla.total_seconds() / 3600:.1f} h)"
        )


# --- what a message reports, and how late it may be -------------------------------------------


def occurred(fact: Fact) -> datetime:
    """The oldest event time the message newly reports (its lateness is measured from there)."""
    if isinstance(fact, CourierStatus | QmsDeviation | QmsReview):
        return fact.at
    if isinstance(fact, LoggerExport):
        return min((at for at, _ in fact.readings), default=fact.received)
    if isinstance(fact, FhirOrder):
        return fact.last_updated or fact.authored
    if isinstance(fact, FhirCollection):
        return min(fact.procedure_end, fact.end)
    if isinstance(fact, FhirProcedure):
        return fact.start if fact.kind == "lymphodepletion" else fact.end
    if isinstance(fact, MesReceipt):
        return fact.receipt
    if isinstance(fact, MesPerformance):  # cumulative: only the latest segment end is new
        ends = [s.end for s in fact.segments if s.end and s.end <= fact.published]
        return min(max(ends, default=fact.start), fact.published)
    if isinstance(fact, LimsExport):
        return min(r.at for r in fact.results)
    if isinstance(fact, SapOrder | SapBatch | SapDelivery):
        return fact.goods_issue if isinstance(fact, SapDelivery) else fact.created
    if isinstance(fact, SapUsageDecision):
        return fact.decided
    if isinstance(fact, EpcisDocument):
        times = [e.at for e in fact.events] + [e.declared for e in fact.events if e.declared]
        return min(times)
    return fact.received


def allowed(fact: Fact, profile: ProductProfile) -> timedelta:
    """The allowed lateness of the message: the tightest of any event type it may carry
    (readings only for logger uploads and EPCIS documents, which carry others too)."""
    if isinstance(fact, LoggerExport):
        return profile.late_sla(T.TEMPERATURE_READING)
    types: list[T] = [t for t in T if t not in (T.TEMPERATURE_READING, T.CLOCK_TICK)]
    if isinstance(fact, EpcisDocument):
        types.append(T.TEMPERATURE_READING)
    return min(profile.late_sla(t) for t in types)


def feed(fact: Fact) -> str:
    """The feed a message travels on: one per partner, the EHR one per source system."""
    if isinstance(fact, FhirProcedure):
        return f"fhir:{fact.kind}"
    if isinstance(fact, FhirCollection):
        return "fhir:apheresis"
    return fact.partner


def malformed(fact: Fact) -> bool:
    """A message the hub rejects: never resent as a duplicate (ground truth of dead letters)."""
    return (
        (isinstance(fact, CourierStatus) and fact.truncated)
        or (isinstance(fact, LimsExport) and fact.drop_column is not None)
        or (isinstance(fact, QmsDeviation) and fact.naive)
    )


# --- schedules shared by every chain of a network ----------------------------------------------


def next_run(at: datetime, every_min: int, phase_min: int) -> datetime:
    """The first run of a job every ``every_min`` minutes (offset ``phase_min``) at or after
    ``at``."""
    step = timedelta(minutes=every_min)
    origin = _EPOCH + timedelta(minutes=phase_min)
    runs: int = math.ceil((at - origin) / step)
    return origin + runs * step


class Schedules:
    """The network's batch jobs, lab runs and subscriptions: one clock per partner system."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = rng_for(seed, "arrival", "schedules")
        self.sap = {kind: rng.randrange(every) for kind, every in _SAP_EVERY.items()}
        self.qms, self.epcis = rng.randrange(10), rng.randrange(30)
        self._runs: dict[datetime, list[datetime]] = {}

    def run_rng(self, *parts: object) -> random.Random:
        return rng_for(self.seed, "arrival", "run", *parts)

    def sap_run(self, fact: Fact) -> datetime:
        every = _SAP_EVERY[type(fact)]
        run = next_run(fact.received, every, self.sap[type(fact)])
        rng = self.run_rng("sap", every, run.isoformat())
        if rng.random() < 0.05:  # the run fails; the next one sends
            run += timedelta(minutes=every)
        return run + rng.randrange(60, 300) * S

    def lims_export(self, fact: Fact) -> datetime:
        """The end of the lab's run that holds the results, plus the export job: runs last
        40-80 min back to back (seeded per day), so one run's results travel together."""
        day = fact.received.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = self._lims_runs(day) + self._lims_runs(day + timedelta(days=1))
        end = next(e for e in ends if e >= fact.received)
        return end + self.run_rng("lims", end.isoformat()).randrange(120, 600) * S

    def _lims_runs(self, day: datetime) -> list[datetime]:
        if day not in self._runs:
            rng = self.run_rng("lims-day", day.date().isoformat())
            at, ends = day + rng.randrange(40) * M, []
            while at < day + timedelta(days=1):
                at += rng.randrange(40, 81) * M
                ends.append(at)
            self._runs[day] = ends
        return self._runs[day]

    def job(self, partner: str, at: datetime, every: int, phase: int, spread_s: int) -> datetime:
        run = next_run(at, every, phase)
        return run + self.run_rng(partner, run.isoformat()).randrange(spread_s + 1) * S


def _lognormal(rng: random.Random, median: timedelta, sigma: float, cap: timedelta) -> timedelta:
    drawn: timedelta = median * rng.lognormvariate(0.0, sigma)
    return min(drawn, cap)


def _delay(fact: Fact, rng: random.Random, s: Schedules, late_thaw: bool) -> datetime:
    """When the fact's partner system delivers it, without regard to lateness or order."""
    sent = fact.received
    if isinstance(fact, CourierStatus):
        return _webhook(fact, rng)[0]
    if fact.partner == "fhir":
        extra = rng.randrange(20, 71) * M if late_thaw else timedelta(0)
        return sent + _lognormal(rng, 4 * M, 0.9, 90 * M) + extra
    if isinstance(fact, LoggerExport):
        return sent + rng.randrange(181) * S
    if fact.partner == "sap":
        return s.sap_run(fact)
    if isinstance(fact, LimsExport):
        return s.lims_export(fact)
    if fact.partner == "mes":
        backlog = rng.randrange(15, 61) * M if rng.random() < 0.04 else timedelta(0)
        return sent + _lognormal(rng, 90 * S, 0.8, 10 * M) + backlog
    if fact.partner == "qms":
        return s.job("qms", sent, 10, s.qms, 120)
    if fact.partner == "epcis":
        return s.job("epcis", sent, 30, s.epcis, 60)
    return sent


def _webhook(fact: CourierStatus, rng: random.Random) -> tuple[datetime, bool]:
    """When the courier's webhook gets through, and whether it was retried without holding up
    the courier's later webhooks (they may overtake it)."""
    if rng.random() < 0.88:
        return fact.received + _lognormal(rng, 3 * S, 1.0, 2 * M), False
    retries = rng.randint(1, 6)
    at = fact.received + ((1 << retries) - 1) * M + rng.randrange(30) * S
    return at, rng.random() < 0.5


def _resend_after(fact: Fact, rng: random.Random) -> timedelta:
    if isinstance(fact, CourierStatus):
        return (1 << rng.randint(0, 4)) * M
    if fact.partner == "sap":
        return _SAP_EVERY[type(fact)] * M
    if isinstance(fact, LimsExport):
        return rng.randrange(10, 61) * M
    return rng.randrange(1, 31) * M


# --- logger uploads ---------------------------------------------------------------------------


def _loggers(facts: Sequence[Fact], profile: ProductProfile, rng: random.Random) -> list[Fact]:
    """Missed uploads carried into the next one, and some shipments read out on arrival."""
    sla = profile.late_sla(T.TEMPERATURE_READING)
    legs: dict[str, list[int]] = {}
    for i, fact in enumerate(facts):
        if isinstance(fact, LoggerExport):
            legs.setdefault(fact.step.rsplit(".", 1)[0], []).append(i)
    out: dict[int, Fact | None] = {}
    for leg, idx in legs.items():
        exports = [e for i in idx if isinstance(e := facts[i], LoggerExport)]
        series = [r for e in exports for r in e.readings]
        readout = exports[-1].received + rng.randrange(5, 36) * M
        if rng.random() < 0.4 and series and readout + MARGIN <= series[0][0] + sla:
            last = exports[-1]
            merged = replace(
                last, step=f"{leg}.readout", received=readout, readings=tuple(series),
                export_id=last.export_id.replace("-EXP-", "-RDO-"),
            )  # fmt: skip
            out.update({i: None for i in idx[:-1]} | {idx[-1]: merged})
            continue
        carry: tuple[tuple[datetime, float], ...] = ()
        outage = False
        for k, (i, export) in enumerate(zip(idx, exports, strict=True)):
            readings = carry + export.readings
            nxt = facts[idx[k + 1]] if k + 1 < len(idx) else None
            outage = rng.random() < (0.5 if outage else 0.08)
            if outage and nxt and nxt.received + 4 * M + MARGIN <= readings[0][0] + sla:
                carry, out[i] = readings, None
            else:
                carry, outage, out[i] = (), False, replace(export, readings=readings)
    return [f for i, fact in enumerate(facts) if (f := out.get(i, fact)) is not None]


# --- one chain ----------------------------------------------------------------------------------


def _overdue_candidate(fact: Fact) -> bool:
    """Records no deadline or sequence rule waits on: an intermediate MES production report,
    a LIMS export (whether its feed's next record leaves room is checked separately)."""
    if isinstance(fact, MesPerformance):
        return fact.state == "Running" and fact.step != "mfg.report.1"
    return isinstance(fact, LimsExport) and not malformed(fact)


def arrive(
    facts: Sequence[Fact],
    profile: ProductProfile,
    schedules: Schedules,
    n: int,
    overdue: bool = False,
) -> tuple[list[Delivery], Overdue | None]:
    """The deliveries of one chain's ``facts`` in receipt order (ties in the order they were
    sent) and, when ``overdue``, the record delivered beyond its allowed lateness (None if
    the chain has no record that fits)."""
    rng = rng_for(schedules.seed, "arrival", n)
    facts = _loggers(facts, profile, rng)
    late_thaw = rng.random() < 0.3
    base = [f.received for f in facts]
    limit = [max(f.received, occurred(f) + allowed(f, profile) - MARGIN) for f in facts]
    want: list[datetime] = []
    overtaken: set[int] = set()  # retried webhooks the courier's later ones may overtake
    for i, f in enumerate(facts):
        if isinstance(f, CourierStatus):
            at, independent = _webhook(f, rng)
            if independent:
                overtaken.add(i)
        else:
            at = _delay(f, rng, schedules, late_thaw and f.step == "thaw")
        want.append(max(f.received, min(at, limit[i])))
    sent_order = sorted(range(len(facts)), key=lambda i: (base[i], i))
    rank = {i: r for r, i in enumerate(sent_order)}
    feeds: dict[str, list[int]] = {}
    for i in sent_order:
        feeds.setdefault(feed(facts[i]), []).append(i)
    chosen: Overdue | None = None
    if overdue:
        chosen = _pick_overdue(facts, profile, feeds, limit, rng)
        if chosen is not None:
            k = next(i for i, f in enumerate(facts) if f.step == chosen.step)
            want[k] = limit[k] = chosen.received
    received = list(want)
    for everyone in feeds.values():
        order = [i for i in everyone if i not in overtaken]
        for a, b in itertools.pairwise(order):
            received[b] = max(received[b], received[a])
        for a, b in zip(reversed(order[:-1]), reversed(order[1:]), strict=True):
            received[a] = min(received[a], limit[a], received[b])
    deliveries: list[tuple[datetime, int, Delivery]] = []
    for i, fact in enumerate(facts):
        deliveries.append((received[i], rank[i], Delivery(fact, received[i])))
        again = received[i] + _resend_after(fact, rng)
        resend = rng.random() < _RESEND.get(fact.partner, 0.0) and not malformed(fact)
        if resend and again <= limit[i] and (chosen is None or fact.step != chosen.step):
            deliveries.append((again, rank[i], Delivery(fact, again, resend=True)))
    deliveries.sort(key=lambda d: d[:2])
    return [d for *_, d in deliveries], chosen


def _pick_overdue(
    facts: Sequence[Fact],
    profile: ProductProfile,
    feeds: dict[str, list[int]],
    limit: list[datetime],
    rng: random.Random,
) -> Overdue | None:
    options: list[Overdue] = []
    for order in feeds.values():
        for pos, i in enumerate(order):
            fact = facts[i]
            if not _overdue_candidate(fact):
                continue
            sla = allowed(fact, profile)
            at = occurred(fact) + sla + rng.randrange(30, 241) * M
            if at > fact.received and all(limit[j] >= at for j in order[pos + 1 :]):
                options.append(Overdue(fact.step, fact.partner, occurred(fact), at, sla))
    return rng.choice(options) if options else None
