"""The fault framework: what a fault sees (:class:`Ctx`), what it does to one journey
(:class:`Effect`: new times and/or edited facts, and when it happened), and the ground truth it
leaves (:class:`Injection`). Faults register themselves with :func:`fault`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hub.chain.profiles import ProductProfile
from hub.sim.facts import Fact
from hub.sim.network import Network, Patient, coi_for
from hub.sim.timeline import Timeline

Facts = list[Fact]


@dataclass(frozen=True)
class Ctx:
    """What a fault sees: the patient, its product profile and its clean timeline."""

    net: Network
    p: Patient
    profile: ProductProfile
    t: Timeline


@dataclass(frozen=True)
class Effect:
    at: datetime  # when the fault happened (or the faulty record claims it happened)
    timeline: Timeline | None = None
    facts: Callable[[Facts], Facts] | None = None


@dataclass(frozen=True)
class Fault:
    name: str
    how: str
    codes: tuple[str, ...]
    inject: Callable[[Ctx], Effect]
    applies: Callable[[Ctx], bool]
    dead_letters: tuple[str, ...] = ()  # "partner:CODE" of the messages that must be rejected


@dataclass(frozen=True)
class Injection:
    """Ground truth of one chain: the fault, the codes it must raise, and when it happened."""

    coi: str
    fault: str
    codes: tuple[str, ...]
    at: datetime
    how: str
    dead_letters: tuple[str, ...] = ()


FAULTS: dict[str, Fault] = {}


def _always(_: Ctx) -> bool:
    return True


def fault(
    name: str,
    how: str,
    codes: tuple[str, ...] | None = None,
    dead_letters: tuple[str, ...] = (),
    applies: Callable[[Ctx], bool] = _always,
) -> Callable[[Callable[[Ctx], Effect]], Callable[[Ctx], Effect]]:
    def register(fn: Callable[[Ctx], Effect]) -> Callable[[Ctx], Effect]:
        FAULTS[name] = Fault(
            name, how, (name,) if codes is None else codes, fn, applies, dead_letters
        )
        return fn

    return register


def another_coi(c: Ctx) -> str:
    """The COI of a patient who is not in this network (a bag of another programme)."""
    return coi_for(c.net.seed + 1, c.p.n)
