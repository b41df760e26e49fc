"""Audit records from the flow core: numbered, chained and hashed with the canonical digest,
the head kept in the chain's row, the same records for the same input, none for a repeat."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.audit.records import AuditHead, AuditKind, AuditRecord, Entry, append, record_hash
from hub.canonical import digest
from hub.cases.commands import CaseAction, CaseCommand
from hub.flow import Chain, FlowCore
from hub.flow.memory import MemoryHub
from tests.scenarios.builders import Story
from tests.unit.audit.conftest import Made, feed, make_trail, oos_story

pytestmark = pytest.mark.req("REQ-P11-AUDIT-CHAIN")


def test_records_are_numbered_chained_and_hashed_over_their_canonical_json(made: Made) -> None:
    for coi in made.cois:
        records = made.chain(coi)
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert records[0]["prev"] is None
        for before, after in itertools.pairwise(records):
            assert after["prev"] == before["hash"]
        for r in records:
            assert r["hash"] == digest({k: v for k, v in r.items() if k != "hash"})
        assert made.hub.chains[coi].audit == AuditHead(seq=len(records), hash=records[-1]["hash"])


def test_each_field_is_under_the_hash() -> None:
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    entry = Entry(AuditKind.EVENT, at, "partner:x", "A", "e1", "why", {"v": 1})
    _, (record,) = append("COI", AuditHead(), [entry], "NEW")
    data = record.as_json()
    assert record_hash(data) == record.hash
    for field, other in [("actor", "someone"), ("reason", "other"), ("seq", 2), ("body", {})]:
        assert record_hash({**data, field: other}) != record.hash, field


def test_a_record_round_trips_through_json_with_the_same_hash(made: Made) -> None:
    for raw in made.trail.records[:50]:
        again = AuditRecord.model_validate(json.loads(json.dumps(raw)))
        assert again.as_json() == raw
        assert record_hash(again.as_json()) == raw["hash"]


def test_who_what_when_why_of_an_event_a_case_version_and_a_command(made: Made) -> None:
    chain = made.chain(made.cois[1])
    first = chain[0]
    assert (first["kind"], first["action"]) == ("EVENT", "THERAPY_ORDERED")
    assert first["at"] == first["body"]["source"]["received_at"]  # the hub's clock
    assert first["reason"].startswith("reported by ")
    opened = next(r for r in chain if r["ref"] == f"{made.case_id}@1")
    assert (opened["kind"], opened["action"]) == ("CASE_VERSION", "QC_OUT_OF_SPEC OPEN")
    assert opened["actor"] == "hub"
    assert opened["reason"]  # the case's summary
    command, acked = chain[-2:]
    assert (command["kind"], command["actor"], command["action"]) == (
        "CASE_COMMAND",
        "qp-anna",
        "ACKNOWLEDGE",
    )
    assert command["reason"] == "investigating"
    assert command["body"]["command"]["command_id"] == "cmd-1"
    assert (acked["kind"], acked["actor"], acked["action"]) == (
        "CASE_VERSION",
        "qp-anna",
        "QC_OUT_OF_SPEC ACKNOWLEDGED",
    )


def test_the_same_input_gives_the_same_records_and_a_repeat_gives_none(core: FlowCore) -> None:
    def run() -> MemoryHub:
        hub = MemoryHub(core)
        feed(hub, oos_story())
        return hub

    first, second = run(), run()
    assert [r.hash for r in first.audit] == [r.hash for r in second.audit]
    before = len(first.audit)
    for event in oos_story().events:  # every event delivered again: already applied
        first.inject(event, route=False)
    assert len(first.audit) == before


def test_the_head_survives_the_table_row_and_the_chain_continues(core: FlowCore) -> None:
    story = Story("cart-fresh-48h", 4).clean()
    events = sorted(story.events, key=lambda e: e.recorded_at)
    hub = MemoryHub(core)
    for event in events[:5]:
        hub.inject(event, route=False)
    restarted = MemoryHub(core)
    restarted.chains = {c: Chain.from_row(json.loads(json.dumps(ch.to_row())))
                        for c, ch in hub.chains.items()}  # fmt: skip
    for event in events[5:8]:
        restarted.inject(event, route=False)
        hub.inject(event, route=False)
    assert [r.seq for r in restarted.audit] == [6, 7, 8]
    assert [r.hash for r in restarted.audit] == [r.hash for r in hub.audit[5:8]]


def test_commands_rejected_and_unknown_are_on_the_trail_or_dead_lettered(core: FlowCore) -> None:
    made = make_trail(core)  # its own: this test adds records
    hub, coi = made.hub, made.cois[1]
    at = hub.cases[made.case_id].opened_at + timedelta(days=1)
    again = CaseCommand(command_id="cmd-2", case_id=made.case_id,
                        action=CaseAction.ACKNOWLEDGE, actor="qp-ben", at=at)  # fmt: skip
    hub.command(coi, again)
    rejected = hub.audit[-1]
    assert (rejected.kind, rejected.actor) == (AuditKind.COMMAND_REJECTED, "qp-ben")
    assert rejected.reason is not None
    assert rejected.reason.startswith("ALREADY_ACKNOWLEDGED")
    unknown = again.model_copy(update={"command_id": "cmd-3", "case_id": "no-such-case"})
    hub.command(coi, unknown)
    assert hub.audit[-1].body["error"] == "UNKNOWN_CASE"
    count = len(hub.audit)
    hub.command(coi, unknown)  # the same command id again: applied once
    assert len(hub.audit) == count
    hub.command("V2VNOSUCHCHAIN00", unknown)
    assert hub.dead_letters[-1].rejection.code == "UNKNOWN_CHAIN"
    assert len(hub.audit) == count


def test_with_the_audit_trail_off_the_core_writes_no_record(core: FlowCore) -> None:
    quiet = FlowCore(core.connectors, core.profiles, core.policy, audit=False)
    hub = MemoryHub(quiet)
    feed(hub, oos_story())
    assert hub.audit == []
    assert hub.cases  # the chain is judged the same
    assert all(c.audit == AuditHead() for c in hub.chains.values())
