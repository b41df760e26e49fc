"""Audit records and the hash chain of one chain (pure).

Every record applied to a chain (a canonical event, a clock tick that changed it, a case
command or its rejection) and every case version the hub made is one :class:`AuditRecord`:
who (``actor``), what (``kind``, ``action``, ``ref``), when (``at``, the hub's clock: the receipt
time of the record that caused it) and why (``reason``), with the whole record as taken or made
(``body``). Records of one chain are numbered from 1 (``seq``) and each carries the hash of the
one before (``prev``), so deleting, altering, reordering or inserting a record breaks the chain.

``hash`` is :func:`hub.canonical.digest` of the record's JSON form (``model_dump(mode="json")``)
without ``hash`` itself: the same bytes wherever it is checked. The head of a chain (its last
``seq`` and ``hash``) lives in the chain's table row (:class:`hub.flow.Chain`), so a restarted
worker continues the chain, and the same records in the same order give the same hashes: a
replay of the same input writes the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, PrivateAttr

from hub.canonical import digest
from hub.cases.commands import CaseCommand, CaseNote, CommandRejected
from hub.cases.models import Case
from hub.events.models import Event, EventType, Frozen, UtcDatetime

CONFIG_CHAIN = "hub:config"
"""The chain of configuration changes (profiles, escalation policy, partner registry)."""


class AuditKind(StrEnum):
    EVENT = "EVENT"
    """A canonical event applied to its chain (``body``: the event as received)."""
    TICK = "TICK"
    """A clock tick that changed the chain: a deadline fired or a case re-escalated."""
    CASE_VERSION = "CASE_VERSION"
    """A case version the hub wrote (``body``: the case)."""
    CASE_COMMAND = "CASE_COMMAND"
    """A person's command applied to a case (``body``: the command and its note)."""
    COMMAND_REJECTED = "COMMAND_REJECTED"
    """A person's command the hub refused (``body``: the command and the rejection)."""
    CONFIG_CHANGE = "CONFIG_CHANGE"
    """A configuration file seen with a new content (``body``: file, old and new digest)."""


INPUT_KINDS = frozenset({AuditKind.EVENT, AuditKind.TICK, AuditKind.CASE_COMMAND,
                         AuditKind.COMMAND_REJECTED})  # fmt: skip
"""Kinds whose body is a record the hub received: reconstruction replays exactly these."""


class AuditHead(Frozen):
    """The last record of one chain (``seq`` 0: none yet)."""

    seq: int = 0
    hash: str | None = None


class AuditRecord(Frozen):
    chain: str = Field(description="the COI, or hub:config")
    seq: int = Field(ge=1)
    prev: str | None = Field(description="hash of record seq-1 of the same chain; None for 1")
    kind: AuditKind
    at: UtcDatetime = Field(description="the hub's clock: receipt time of the causing record")
    actor: str = Field(description="who: a person, a partner (partner:<id>) or hub:<part>")
    action: str = Field(description="what: event type, command action, case status, ...")
    ref: str = Field(description="the id of what is recorded (event, case@version, command)")
    reason: str | None = Field(None, description="why")
    stage: str | None = Field(None, description="the chain's stage after the record")
    body: dict[str, Any] = Field(default_factory=dict)
    hash: str
    _json: dict[str, Any] | None = PrivateAttr(None)  # as hashed by append(): not made twice

    def as_json(self) -> dict[str, Any]:
        """The record's JSON form (what the topic carries, what the hash covers)."""
        return self._json if self._json is not None else self.model_dump(mode="json")


def record_hash(data: dict[str, Any]) -> str:
    """The hash of a record in JSON form (``hash`` itself left out)."""
    return digest({k: v for k, v in data.items() if k != "hash"})


@dataclass(frozen=True)
class Entry:
    """A record before it is numbered and hashed onto its chain."""

    kind: AuditKind
    at: datetime  # UTC
    actor: str
    action: str
    ref: str
    reason: str | None
    body: dict[str, Any]


def append(
    chain_id: str, head: AuditHead, entries: list[Entry], stage: str | None = None
) -> tuple[AuditHead, tuple[AuditRecord, ...]]:
    """``entries`` numbered and hashed onto the chain after ``head``; returns the new head."""
    out: list[AuditRecord] = []
    seq, prev = head.seq, head.hash
    for e in entries:
        seq += 1
        data: dict[str, Any] = {
            "chain": chain_id,
            "seq": seq,
            "prev": prev,
            "kind": e.kind.value,
            "at": json_time(e.at),
            "actor": e.actor,
            "action": e.action,
            "ref": e.ref,
            "reason": e.reason,
            "stage": stage,
            "body": e.body,
        }
        prev = data["hash"] = digest(data)
        fields = {**data, "kind": e.kind, "at": e.at}
        out.append(_trusted(fields, data))
    return AuditHead(seq=seq, hash=prev), tuple(out)


def _trusted(fields: dict[str, Any], data: dict[str, Any]) -> AuditRecord:
    """A record of the hub's own, validated values with its JSON form kept: no second
    validation or serialisation on the worker's hot path (once per record). Every field given."""
    record = AuditRecord.__new__(AuditRecord)
    object.__setattr__(record, "__dict__", fields)
    object.__setattr__(record, "__pydantic_fields_set__", set(fields))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", {"_json": data})
    return record


def json_time(at: datetime) -> str:
    """A UTC datetime as pydantic's JSON mode writes it (``...Z``)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- entries for what happens to a chain ----------------------------------------------------


def event_entry(event: Event) -> Entry:
    src = event.source
    if event.event_type is EventType.CLOCK_TICK:
        return Entry(AuditKind.TICK, src.received_at, "hub:clock", event.event_type.value,
                     event.event_id, "a deadline or re-escalation fell due",
                     event.model_dump(mode="json"))  # fmt: skip
    actor = event.actor.id if event.actor is not None else f"partner:{src.partner}"
    return Entry(
        AuditKind.EVENT,
        src.received_at,
        actor,
        event.event_type.value,
        event.event_id,
        f"reported by {src.partner} ({src.system}), message {src.message_id}",
        event.model_dump(mode="json"),
    )


def case_entry(case: Case, at: datetime) -> Entry:
    actor = "hub"
    if case.resolved_by and case.resolved_at == case.updated_at:
        actor = case.resolved_by
    elif case.acknowledged_by and case.acknowledged_at == case.updated_at:
        actor = case.acknowledged_by
    reason = case.resolution if case.resolution and actor != "hub" else case.summary
    return Entry(
        AuditKind.CASE_VERSION,
        at,
        actor,
        f"{case.code} {case.status.value}",
        f"{case.case_id}@{case.version}",
        reason,
        case.model_dump(mode="json"),
    )


def command_entry(cmd: CaseCommand, note: CaseNote) -> Entry:
    return Entry(
        AuditKind.CASE_COMMAND,
        cmd.at,
        note.actor,
        cmd.action.value,
        cmd.command_id,
        cmd.reason,
        {"command": cmd.model_dump(mode="json"), "note": note.model_dump(mode="json")},
    )


def rejected_entry(cmd: CaseCommand, error: str, message: str) -> Entry:
    return Entry(
        AuditKind.COMMAND_REJECTED,
        cmd.at,
        cmd.actor.strip() or "(nobody)",
        cmd.action.value,
        cmd.command_id,
        f"{error}: {message}",
        {"command": cmd.model_dump(mode="json"), "error": error, "message": message},
    )


def rejection_entry(cmd: CaseCommand, rejected: CommandRejected) -> Entry:
    return rejected_entry(cmd, rejected.error.value, rejected.message)
