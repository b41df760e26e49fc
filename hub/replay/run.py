"""A recording through the in-memory hub, in receipt-time order, with a simulated clock.

Lines are taken in ``received_at`` order (ties keep file and line order); a clock tick at every
multiple of ``tick`` (on the UTC grid) from the first line's receipt up to ``until`` reaches the
chains after every line received by then, as the worker's ticker would. A line naming a partner
this deployment has no connector for is a bad line, like a malformed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.flow import FlowCore
from hub.flow.memory import DeadRecord, MemoryHub
from hub.replay.lines import BadLine, EventLine, Line, MessageLine, read_lines

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_TICK = timedelta(minutes=15)


@dataclass
class Replayed:
    """What the hub concluded from a recording."""

    hub: MemoryHub
    lines: int = 0
    ticks: int = 0
    bad: list[BadLine] = field(default_factory=list)
    dead: list[tuple[str, DeadRecord]] = field(default_factory=list)  # (where, dead letter)
    until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        hub = self.hub
        return {
            "cases": [c.model_dump(mode="json") for c in hub.latest_cases()],
            "escalations": [e.model_dump(mode="json") for e in hub.escalations],
            "dead_letters": [
                {
                    "line": where,
                    "partner": d.rejection.partner,
                    "stage": d.rejection.stage,
                    "code": d.rejection.code,
                    "field": d.rejection.field,
                    "reason": d.rejection.reason,
                }
                for where, d in self.dead
            ],
            "chains": {coi: chain.summary() for coi, chain in sorted(hub.chains.items())},
            "skipped_lines": [{"line": str(b.where), "reason": b.reason} for b in self.bad],
            "replayed": {
                "lines": self.lines,
                "ticks": self.ticks,
                "until": self.until.isoformat() if self.until else None,
            },
        }


def grid(start: datetime, until: datetime, every: timedelta) -> Iterator[datetime]:
    """Multiples of ``every`` since the epoch, from the first at or after ``start``."""
    steps = -((EPOCH - start) // every)  # ceil((start - EPOCH) / every)
    at = EPOCH + steps * every
    while at <= until:
        yield at
        at += every


def replay(
    files: Iterable[Path],
    core: FlowCore,
    tick: timedelta = DEFAULT_TICK,
    until: datetime | None = None,
) -> Replayed:
    if tick <= timedelta(0):
        raise ValueError("the tick must be a positive duration")
    result = Replayed(MemoryHub(core))
    good: list[tuple[datetime, int, MessageLine | EventLine]] = []
    for line in _all(files):
        if isinstance(line, BadLine):
            result.bad.append(line)
        elif isinstance(line, MessageLine) and line.message.partner not in core.connectors:
            known = ", ".join(sorted(core.connectors))
            result.bad.append(
                BadLine(line.where, f"no connector {line.message.partner!r} (known: {known})")
            )
        else:
            good.append((line.received_at, len(good), line))
    good.sort(key=lambda item: (item[0], item[1]))
    if not good:
        return result
    last = good[-1][0]
    result.until = until or last + timedelta(days=1)
    pending = iter(good)
    item = next(pending, None)
    for at in grid(good[0][0], max(result.until, last), tick):
        while item is not None and item[0] <= at:
            _take(result, item[2])
            item = next(pending, None)
        if at <= result.until:
            result.hub.tick(at)
            result.ticks += 1
    while item is not None:  # received after the last tick
        _take(result, item[2])
        item = next(pending, None)
    return result


def _all(files: Iterable[Path]) -> Iterator[Line]:
    for path in files:
        yield from read_lines(path)


def _take(result: Replayed, line: MessageLine | EventLine) -> None:
    hub = result.hub
    before = len(hub.dead_letters)
    if isinstance(line, MessageLine):
        hub.deliver(line.message)
    else:
        hub.inject(line.event)
    result.lines += 1
    result.dead.extend((str(line.where), d) for d in hub.dead_letters[before:])
