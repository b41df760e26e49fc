"""A whole simulated run: network, faults, every native message in receipt order, ground truth.

:func:`build` is deterministic: the same ``(seed, patients, faults, arrival)`` gives
byte-identical messages. ``arrival="ordered"`` receives every message a few minutes after its
fact, in the order things happen; ``"realistic"`` re-times them as partner systems deliver
(:mod:`hub.sim.arrival`: latency per feed, batch jobs, retries, resends, reordering across
feeds) and sends a few records of otherwise clean chains beyond their allowed lateness, each
with a ``LATE_EVENT`` in that chain's ground truth.

:meth:`Scenario.steps` cuts simulated time into hourly steps (the barrier unit of the live
runner): a step holds the messages received in its hour, in *waves* where each chain has
at most one message, so that a chain's messages reach the hub in order even though the hub
reads every partner's raw topic independently; the step ends with a clock tick at its hour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hub.chain.profiles import ProductProfile, load_profiles
from hub.settings import REPO_ROOT
from hub.sim.arrival import ARRIVALS, ORDERED, REALISTIC, Delivery, Schedules, arrive
from hub.sim.dialects import render
from hub.sim.faults import Ctx, Injection, assign, default_faults
from hub.sim.journey import journey
from hub.sim.network import Network, build_network, rng_for
from hub.sim.timeline import H, Timeline, plan

PROFILE_DIR = REPO_ROOT / "hub" / "chain" / "profiles"
CLEAN = "clean"
OVERDUE = "BEYOND_LATENESS"
"""The ground-truth name of a chain whose one record arrives beyond its allowed lateness."""


@dataclass(frozen=True)
class Message:
    """One native partner message, as the simulated partner sends it."""

    n: int
    coi: str
    step: str
    partner: str
    received: datetime
    payload: bytes
    content_type: str


@dataclass(frozen=True)
class Step:
    at: datetime
    waves: tuple[tuple[Message, ...], ...]


@dataclass(frozen=True)
class Chain:
    """One patient's chain: its product, clean timeline and injected fault."""

    n: int
    coi: str
    clinic: str
    profile: str
    timeline: Timeline
    injection: Injection


@dataclass(frozen=True)
class Scenario:
    seed: int
    network: Network
    chains: tuple[Chain, ...]
    messages: tuple[Message, ...]
    start: datetime
    horizon: datetime
    arrival: str = ORDERED
    overdue: tuple[tuple[int, str], ...] = ()
    """(patient, step) of the records sent beyond their allowed lateness on purpose."""

    @property
    def injections(self) -> tuple[Injection, ...]:
        return tuple(c.injection for c in self.chains)

    def steps(self) -> Iterator[Step]:
        """Every hour from ``start`` to ``horizon``; idle hours have no wave."""
        by_hour: dict[datetime, list[Message]] = {}
        for message in self.messages:
            by_hour.setdefault(_ceil_hour(message.received), []).append(message)
        at = self.start
        while at <= self.horizon:
            yield Step(at, _waves(by_hour.get(at, [])))
            at += H


def _ceil_hour(at: datetime) -> datetime:
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + H


def _waves(messages: list[Message]) -> tuple[tuple[Message, ...], ...]:
    waves: list[list[Message]] = []
    seen: dict[str, int] = {}
    for message in messages:  # already in receipt order
        k = seen.get(message.coi, 0)
        seen[message.coi] = k + 1
        if k == len(waves):
            waves.append([])
        waves[k].append(message)
    return tuple(tuple(w) for w in waves)


def build(
    seed: int = 7,
    patients: int = 50,
    faults: Sequence[str] | None = None,
    profile_dir: Path = PROFILE_DIR,
    arrival: str = ORDERED,
) -> Scenario:
    if arrival not in ARRIVALS:
        raise ValueError(f"unknown arrival {arrival!r}; known: {', '.join(ARRIVALS)}")
    profiles: dict[str, ProductProfile] = load_profiles(profile_dir)
    network = build_network(seed, patients)
    contexts = [
        Ctx(network, p, profiles[p.profile], plan(p, profiles[p.profile], rng_for(seed, "t", p.n)))
        for p in network.patients
    ]
    chosen = assign(contexts, default_faults(patients) if faults is None else faults, seed)
    schedules = Schedules(seed)
    late = _overdue_chains(
        seed, patients, [c.p.n for c in contexts if c.p.n not in chosen], arrival
    )
    chains: list[Chain] = []
    overdue: list[tuple[int, str]] = []
    ordered: list[tuple[datetime, int, int, Message]] = []
    for ctx in contexts:
        p, t = ctx.p, ctx.t
        fault = chosen.get(p.n)
        effect = fault.inject(ctx) if fault else None
        timeline = effect.timeline if effect and effect.timeline else t
        facts = journey(network, p, ctx.profile, timeline).facts
        if effect and effect.facts:
            facts = effect.facts(facts)
        injection = (
            Injection(p.coi, fault.name, fault.codes, effect.at, fault.how, fault.dead_letters)
            if fault and effect
            else Injection(p.coi, CLEAN, (), t.ordered, "no fault")
        )
        deliveries = [Delivery(f, f.received) for f in facts]
        if arrival == REALISTIC:
            deliveries, beyond = arrive(facts, ctx.profile, schedules, p.n, p.n in late)
            if beyond is not None:
                injection = Injection(p.coi, OVERDUE, ("LATE_EVENT",), beyond.occurred, beyond.how)
                overdue.append((p.n, beyond.step))
        chains.append(Chain(p.n, p.coi, p.clinic.key, p.profile, timeline, injection))
        for i, delivery in enumerate(deliveries):
            fact = delivery.fact
            native = render(fact)
            step = f"{fact.step}.resend" if delivery.resend else fact.step
            message = Message(
                p.n, p.coi, step, fact.partner, delivery.received, native.payload,
                native.content_type,
            )  # fmt: skip
            ordered.append((delivery.received, p.n, i, message))
    ordered.sort(key=lambda item: item[:3])
    messages = tuple(m for *_, m in ordered)
    start = messages[0].received.replace(minute=0, second=0, microsecond=0)
    horizon = _ceil_hour(messages[-1].received) + timedelta(hours=24)
    return Scenario(seed, network, tuple(chains), messages, start, horizon, arrival, tuple(overdue))


def _overdue_chains(seed: int, patients: int, clean: list[int], arrival: str) -> set[int]:
    """A few clean chains (one per 20 patients, at least one) that get a record beyond their
    allowed lateness under realistic arrival."""
    if arrival != REALISTIC or not clean:
        return set()
    count = min(len(clean), max(1, patients // 20))
    return set(rng_for(seed, "arrival", "overdue").sample(sorted(clean), count))
