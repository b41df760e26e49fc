"""The flow core and its in-memory driver: routing, identity resolution, one chain's steps,
a chain that survives a failing rule, and rows written by earlier versions of the hub."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.cases.commands import CaseAction, CaseCommand
from hub.chain.catalogue import REGISTRY
from hub.events.models import EventType
from hub.flow import Chain, FlowCore
from hub.flow.core import CHAIN_FAILURE
from hub.flow.memory import MemoryHub

pytestmark = pytest.mark.req("REQ-INV-08")

LEGACY_ROW = Path(__file__).parent / "data" / "chain-row-v0.1.json"
"""A chains-table row exactly as the worker wrote it before the case desk became the chain's
one memory of its cases (state.cases beside desk.cases)."""
T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # within a day of every sample it receives
COI = "V2VSAMPLE000001T"


def courier(name: str, at: datetime = T0) -> RawMessage:
    [path] = [p for p in sample_files("courier") if p.name.startswith(name)]
    return RawMessage("courier", path.read_bytes(), at, "application/json")


@pytest.mark.req("REQ-P11-PROTECT")
def test_a_row_written_before_the_case_desk_held_the_cases_still_loads() -> None:
    row = json.loads(LEGACY_ROW.read_text())
    assert len(row["state"]["cases"]) == 2  # the copy this version no longer keeps
    chain = Chain.from_row(row)
    assert chain.coi_id == COI
    assert len(chain.desk.cases) == 2
    assert {c.code for c in chain.desk.cases.values()} == {"CUSTOMS_HOLD"}
    again = Chain.from_row(chain.to_row())
    assert "cases" not in chain.to_row()["state"]
    assert again == chain


@pytest.mark.req("REQ-P11-PROTECT", "REQ-P11-AUDIT")
def test_an_old_row_takes_new_events_and_commands(core: FlowCore) -> None:
    chain = Chain.from_row(json.loads(LEGACY_ROW.read_text()))
    case_id, case = next(iter(chain.desk.cases.items()))
    at = case.opened_at + timedelta(hours=1)
    cmd = CaseCommand(
        command_id="c1", case_id=case_id, action=CaseAction.ACKNOWLEDGE, actor="ops-ben", at=at
    )
    step = core.on_command(chain, COI, cmd)
    assert step.chain is not None
    assert [c.version for c in step.cases] == [2]
    assert step.chain.desk.cases[case_id].acknowledged_by == "ops-ben"
    # an old row has no audit head: its hash chain starts with this command
    assert [(r.kind.value, r.seq) for r in step.audit] == [("CASE_COMMAND", 1), ("CASE_VERSION", 2)]
    assert step.chain.audit.seq == 2


@pytest.mark.req("REQ-A11-CONTINUITY", "REQ-INV-01")
def test_a_rule_that_raises_dead_letters_the_record_and_the_chain_goes_on(
    core: FlowCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(state: object, event: object, profile: object) -> list[object]:
        raise ZeroDivisionError("division by zero in a rule")

    hub = MemoryHub(core)
    hub.deliver(courier("01"))  # pick-up: custody released, departure
    before = hub.chains[COI]
    rules = REGISTRY.by_event.get(EventType.SHIPMENT_STATUS, [])
    monkeypatch.setitem(REGISTRY.by_event, EventType.SHIPMENT_STATUS, [*rules, broken])
    hold = courier("05", T0 + timedelta(hours=1))
    statuses = [e for e in core.ingest(hold).events if e.event_type is EventType.SHIPMENT_STATUS]
    hub.deliver(hold)  # the broken rule runs on each of its status events
    assert len(hub.dead_letters) == len(statuses) >= 1
    for dead, event in zip(hub.dead_letters, statuses, strict=True):
        assert (dead.rejection.code, dead.rejection.stage) == (CHAIN_FAILURE, "chain")
        assert dead.rejection.reason == "ZeroDivisionError: division by zero in a rule"
        assert dead.event == event
        assert dead.rejection.message_id == event.source.message_id
    assert hub.chains[COI] is before  # nothing of a failed record is kept
    assert COI not in {c.coi_id for c in hub.cases.values()}
    monkeypatch.setitem(REGISTRY.by_event, EventType.SHIPMENT_STATUS, rules)
    hub.deliver(courier("09", T0 + timedelta(hours=2)))  # the next record is taken as usual
    hub.tick(datetime(2026, 12, 31, tzinfo=UTC))  # and judged once its lateness passed
    assert hub.chains[COI].state.event_count > before.state.event_count


@pytest.mark.req("REQ-FN-IDENTITY")
def test_events_without_coi_wait_for_their_link_and_a_second_claim_is_a_case(
    core: FlowCore,
) -> None:
    hub = MemoryHub(core)
    logger = next(p for p in sample_files("logger") if p.suffix == ".csv")
    readings = hub.deliver(RawMessage("logger", logger.read_bytes(), T0, "text/csv"))
    assert readings.events == 0  # parked: the shipment is not linked yet
    assert hub.index.waiting
    pickup = hub.deliver(courier("01", T0 + timedelta(minutes=5)))
    assert pickup.events > 2  # its own events and every reading it released
    assert not hub.index.waiting
    # another COI claims the same shipment: the first link stands, the claimant gets a case
    claim = json.loads(courier("01").payload)
    claim.update(message_id="CLAIM-1", coi="V2VDEMO00000001I", din=None)
    raw = RawMessage("courier", json.dumps(claim).encode(), T0 + timedelta(hours=1))
    hub.deliver(raw)
    mismatch = [c for c in hub.cases.values() if c.coi_id == "V2VDEMO00000001I"]
    assert [c.code for c in mismatch] == ["COI_MISMATCH_RECEIPT"]
    assert mismatch[0].opened_at == datetime.fromisoformat(claim["event_time"]).astimezone(UTC)


@pytest.mark.req("REQ-INV-04")
def test_the_hub_clock_is_the_receipt_time_so_a_replay_is_identical(core: FlowCore) -> None:
    def run() -> MemoryHub:
        hub = MemoryHub(core)
        for n, path in enumerate(sample_files("courier")):
            payload = path.read_bytes()
            hub.deliver(RawMessage("courier", payload, T0 + timedelta(minutes=n)))
        hub.tick(T0 + timedelta(days=3))
        return hub

    first, second = run(), run()
    assert first.versions == second.versions
    assert first.escalations == second.escalations
    # detected on the hub's clock: a record's receipt, or the tick that fired a deadline
    clock = {T0 + timedelta(minutes=n) for n in range(20)} | {T0 + timedelta(days=3)}
    assert {c.detected_at for c in first.versions} <= clock
    assert {e.level for e in first.escalations} == {1, 2}  # nobody acknowledged in 3 days


@pytest.mark.req("REQ-INV-01")
def test_an_event_without_any_id_is_a_dead_letter_with_its_reason(core: FlowCore) -> None:
    hub = MemoryHub(core)
    event = core.ingest(courier("01")).events[0]
    written = hub.inject(event.model_copy(update={"coi_id": None}), route=False)
    assert written.events == 1
    [dead] = hub.dead_letters
    assert (dead.rejection.code, dead.rejection.stage) == ("NO_COI", "route")
