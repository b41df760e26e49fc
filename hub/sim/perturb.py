"""Small edits of a journey's facts, the vocabulary faults are written in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hub.sim.facts import Fact, LoggerExport

F = TypeVar("F", bound=Fact)
Facts = list[Fact]


def find(facts: Iterable[Fact], step: str) -> Fact:
    for fact in facts:
        if fact.step == step:
            return fact
    raise KeyError(f"no fact {step!r} in this journey")


def edit(facts: Facts, step: str, **changes: Any) -> Facts:
    """``facts`` with the fact of ``step`` replaced by a copy with ``changes``."""
    find(facts, step)
    return [replace(f, **changes) if f.step == step else f for f in facts]


def edit_all(facts: Facts, kind: type[F], change: Callable[[F], F]) -> Facts:
    return [change(f) if isinstance(f, kind) else f for f in facts]


def drop(facts: Facts, *steps: str) -> Facts:
    for step in steps:
        find(facts, step)
    return [f for f in facts if f.step not in steps]


def after(facts: Facts, step: str, *new: Fact) -> Facts:
    """``new`` facts inserted right after the fact of ``step``."""
    out: Facts = []
    for fact in facts:
        out.append(fact)
        if fact.step == step:
            out.extend(new)
    return out


def readings(
    facts: Facts,
    leg: str,
    start: datetime,
    end: datetime,
    change: Callable[[float], float | None],
) -> Facts:
    """Logger readings of ``leg`` (inbound / outbound) taken in ``[start, end)`` changed, or
    removed where ``change`` returns None; an upload left with no reading is not sent."""
    out: Facts = []
    for fact in facts:
        if isinstance(fact, LoggerExport) and fact.step.startswith(f"{leg}.logger."):
            kept: list[tuple[datetime, float]] = []
            for at, value in fact.readings:
                new = change(value) if start <= at < end else value
                if new is not None:
                    kept.append((at, new))
            if not kept:
                continue
            fact = replace(fact, readings=tuple(kept))
        out.append(fact)
    return out


def window(start: datetime, minutes: float) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)
