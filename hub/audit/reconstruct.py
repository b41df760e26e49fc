"""A chain as the hub knew it at any time: its recorded inputs replayed through the flow core.

The trail holds every record a chain took, as received (events, the clock ticks that changed
it, case commands and their rejections), in the order the hub applied them. The view as of
``T`` replays the longest prefix of that order whose hub-clock times (``at``) are at or before
``T`` through :class:`hub.flow.memory.MemoryHub` (the same :class:`hub.flow.FlowCore` as the
worker): exactly a state the hub was in, never a mix of before and after. An event the hub
received before ``T`` but could apply only later (it waited for its identifier link, received
after ``T``) is not in it: the hub did not know it at ``T``.

The replay writes its own audit records; each must equal the recorded one (same hash): the proof
that the view is what the hub computed then, under the same logic and configuration. A
difference (a changed profile, a record the trail lacks) is reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit.records import INPUT_KINDS, AuditKind, AuditRecord
from hub.cases.commands import CaseCommand
from hub.cases.models import Case
from hub.events.models import ClockTickDetail, Event
from hub.flow import Chain, FlowCore
from hub.flow.memory import MemoryHub


@dataclass
class AsOf:
    coi: str
    as_of: datetime
    records: list[AuditRecord]  # the chain's records the hub had by then, in order
    total: int  # the chain's records in the trail
    chain: Chain | None
    replayed: int = 0  # replayed records equal to the recorded ones
    mismatches: list[str] = field(default_factory=list)

    @property
    def faithful(self) -> bool:
        return not self.mismatches

    @property
    def cases(self) -> list[Case]:
        if self.chain is None:
            return []
        return sorted(self.chain.desk.cases.values(), key=lambda c: (c.opened_at, c.case_id))

    @property
    def open_cases(self) -> list[Case]:
        return [c for c in self.cases if not c.status.closed]

    def events(self) -> dict[str, AuditRecord]:
        """Event id -> the record that brought it."""
        return {r.ref: r for r in self.records if r.kind is AuditKind.EVENT}

    def commands(self) -> list[AuditRecord]:
        kinds = (AuditKind.CASE_COMMAND, AuditKind.COMMAND_REJECTED)
        return [r for r in self.records if r.kind in kinds]

    def signatures(self) -> list[tuple[AuditRecord, str, Any]]:
        """Every e-signature carried by a command or case version: (record, field, value)."""
        found: list[tuple[AuditRecord, str, Any]] = []
        kinds = (AuditKind.CASE_COMMAND, AuditKind.CASE_VERSION)
        for r in self.records:
            if r.kind in kinds:
                found.extend((r, path, value) for path, value in _signatures(r.body, ""))
        return found


def _signatures(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else k
            if "signature" in k.lower() and v not in (None, [], {}):
                yield here, v
            else:
                yield from _signatures(v, here)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _signatures(v, f"{path}[{n}]")


def known_at(records: Iterable[AuditRecord], as_of: datetime) -> list[AuditRecord]:
    """The longest prefix (in ``seq`` order) of records the hub had received by ``as_of``."""
    prefix = []
    for r in sorted(records, key=lambda r: r.seq):
        if r.at > as_of:
            break
        prefix.append(r)
    return prefix


def reconstruct(core: FlowCore, coi: str, records: Iterable[AuditRecord], as_of: datetime) -> AsOf:
    """The chain ``coi`` as the hub knew it at ``as_of``, from its (verified) records."""
    mine = sorted((r for r in records if r.chain == coi), key=lambda r: r.seq)
    prefix = known_at(mine, as_of)
    hub = MemoryHub(core)
    for r in prefix:
        if r.kind not in INPUT_KINDS:
            continue
        if r.kind is AuditKind.EVENT:
            hub.inject(Event.model_validate(r.body), route=False)
        elif r.kind is AuditKind.TICK:
            tick = Event.model_validate(r.body)
            part = tick.detail.partition if isinstance(tick.detail, ClockTickDetail) else None
            hub.tick(tick.occurred_at, part or 0, tick)
        else:
            hub.command(coi, CaseCommand.model_validate(r.body["command"]))
    view = AsOf(coi, as_of, prefix, len(mine), hub.chains.get(coi))
    replayed = [a for a in hub.audit if a.chain == coi]
    for recorded, again in zip(prefix, replayed, strict=False):
        if recorded.hash == again.hash:
            view.replayed += 1
        elif len(view.mismatches) < 20:
            view.mismatches.append(
                f"#{recorded.seq} {recorded.kind.value} {recorded.action}: the replay made "
                f"{again.kind.value} {again.action} (stage {again.stage}, "
                f"recorded {recorded.stage})"
            )
    if len(replayed) != len(prefix):
        view.mismatches.append(
            f"the replay made {len(replayed)} records where the trail has {len(prefix)}"
        )
    if view.mismatches and not core.audit:
        view.mismatches = ["the flow core has its audit trail off: nothing to compare"]
    return view
