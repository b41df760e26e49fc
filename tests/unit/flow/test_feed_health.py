"""Partner feed health through the in-memory hub (the flow core as ``v2v replay`` and the
simulator drive it): a silent courier raises PARTNER_FEED_SILENT on its feed row at a tick,
listing the chain it left at risk with its nearest deadline; the case is escalated and
re-escalated like any case, a person can acknowledge it, and the hub resolves it when the
courier speaks again. A run of bad messages raises PARTNER_FEED_DEGRADED."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.cases.commands import CaseAction, CaseCommand
from hub.cases.models import Case, CaseStatus
from hub.flow import Chain, FlowCore
from hub.flow.memory import MemoryHub
from hub.partners.health import HUB_ACTOR
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-EXC-PARTNER_FEED_SILENT", "REQ-EXC-PARTNER_FEED_DEGRADED")

COI = "V2VSAMPLE000001T"
KEY = "partner:courier"
SLA = timedelta(minutes=300)
PICKUP = json.loads((REPO_ROOT / "connectors/courier/samples/01-pickup.json").read_bytes())
T0 = datetime.fromisoformat(PICKUP["event_time"]).astimezone(UTC) + timedelta(minutes=1)


@pytest.fixture
def core(tmp_path: Path) -> FlowCore:
    """The shipped registry, the courier's freshness SLA set to 300 min and its dead-letter
    limit to 20 % of at least 5 messages in 60 min."""
    registry = tmp_path / "partners"
    shutil.copytree(REPO_ROOT / "deploy" / "partners", registry)
    entry = registry / "courier.yaml"
    text = entry.read_text().splitlines()
    lines = [ln for ln in text if not ln.startswith(("cadence:", "dead_letters:"))]
    health = [
        "cadence: {freshness_sla_min: 300}",
        "dead_letters: {max_rate: 0.2, window_min: 60, min_messages: 5}",
    ]
    entry.write_text("\n".join([*lines, *health]) + "\n")
    return FlowCore.from_files(
        REPO_ROOT / "hub" / "chain" / "profiles",
        REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml",
        b"test-key",
        ["courier", "logger"],
        registry,
    )


def courier(name: str, at: datetime, folder: str = "samples") -> RawMessage:
    [path] = [p for p in sample_files("courier", folder) if p.name.startswith(name)]
    return RawMessage("courier", path.read_bytes(), at, "application/json")


def feed_cases(hub: MemoryHub, code: str) -> list[Case]:
    return [c for c in hub.latest_cases() if c.coi_id == KEY and c.code == code]


def test_a_silent_courier_raises_a_case_listing_its_chain_and_recovers_when_it_speaks(
    core: FlowCore,
) -> None:
    hub = MemoryHub(core)
    hub.deliver(courier("01", T0))  # the pick-up: the chain now waits for the courier
    hub.tick(T0 + SLA)
    assert feed_cases(hub, "PARTNER_FEED_SILENT") == []  # exactly its SLA: on time
    assert KEY in hub.chains
    assert hub.chains[KEY].feed.last_seen == T0

    silent_at = T0 + SLA + timedelta(minutes=15)
    hub.tick(silent_at)
    [case] = feed_cases(hub, "PARTNER_FEED_SILENT")
    assert (case.status, case.severity.value, case.owner_role) == (
        CaseStatus.OPEN,
        "HIGH",
        "integration ops",
    )
    assert (case.opened_at, case.detected_at) == (T0 + SLA, silent_at)
    # the chain it left at risk, with its nearest deadline ahead (pseudonymous COI only)
    state = hub.chains[COI].state
    ahead = [d for d in state.deadlines if silent_at < d.due_at <= silent_at + timedelta(hours=72)]
    nearest = min(ahead, key=lambda d: d.due_at)
    assert f"{COI} ({nearest.code} {nearest.subject} due {nearest.due_at.isoformat()})" in (
        case.summary
    )
    assert "1 chain(s) depend on it" in case.summary
    [listed] = hub.chains[KEY].feed.silent.at_risk
    assert (listed.coi_id, listed.code, listed.due_at) == (COI, nearest.code, nearest.due_at)
    assert "CUSTODY_RELEASED" not in case.summary
    assert "Boston" not in case.summary
    [first] = [e for e in hub.escalations if e.case_id == case.case_id]
    assert (first.level, first.recipient_role, first.coi_id) == (1, "operations-on-call", KEY)

    # nobody acknowledged it within the HIGH level's 60 min: the next level
    hub.tick(silent_at + timedelta(minutes=61))
    levels = [e.level for e in hub.escalations if e.case_id == case.case_id]
    assert levels == [1, 2]

    back = silent_at + timedelta(minutes=70)
    hub.deliver(courier("02", back))
    hub.tick(back + timedelta(minutes=1))
    [resolved] = feed_cases(hub, "PARTNER_FEED_SILENT")
    assert resolved.case_id == case.case_id
    assert (resolved.status, resolved.resolved_by) == (CaseStatus.RESOLVED, HUB_ACTOR)
    assert back.isoformat() in (resolved.resolution or "")
    # on the feed row's audit trail: the hub's resolution, then the version it made
    command, version = hub.audit[-2:]
    assert (command.chain, command.kind.value) == (KEY, "CASE_COMMAND")
    assert (command.actor, command.action) == (HUB_ACTOR, "RESOLVE")
    assert (version.kind.value, version.ref) == (
        "CASE_VERSION",
        f"{case.case_id}@{resolved.version}",
    )
    assert version.prev == command.hash
    assert hub.chains[KEY].feed.silent is None
    # the row round-trips through the table's JSON and shows in the read model's summary
    row = hub.chains[KEY]
    assert Chain.from_row(json.loads(json.dumps(row.to_row()))) == row
    assert row.summary()["feed_health"]["last_seen"] == back.isoformat()
    # the logger never spoke: no row, no case
    assert "partner:logger" not in hub.chains


def test_a_person_acknowledges_a_feed_case_and_it_is_not_re_escalated(core: FlowCore) -> None:
    hub = MemoryHub(core)
    hub.deliver(courier("01", T0))
    silent_at = T0 + SLA + timedelta(minutes=1)
    hub.tick(silent_at)
    [case] = feed_cases(hub, "PARTNER_FEED_SILENT")
    ack = CaseCommand(
        command_id="ack-1",
        case_id=case.case_id,
        action=CaseAction.ACKNOWLEDGE,
        actor="ops-ina",
        at=silent_at + timedelta(minutes=5),
    )
    hub.command(KEY, ack)
    [acked] = feed_cases(hub, "PARTNER_FEED_SILENT")
    assert (acked.status, acked.acknowledged_by) == (CaseStatus.ACKNOWLEDGED, "ops-ina")
    assert hub.chains[KEY].feed.silent is not None  # the command kept the feed's health
    hub.tick(silent_at + timedelta(hours=3))
    assert [e.level for e in hub.escalations if e.case_id == case.case_id] == [1]


def test_a_run_of_bad_messages_degrades_the_feed(core: FlowCore) -> None:
    hub = MemoryHub(core)
    bad = ["bad-coi-check", "missing-shipment", "no-timezone", "truncated", "unknown-code"]
    for i, name in enumerate(bad):
        hub.deliver(courier(name, T0 + timedelta(minutes=i), "bad"))
    for i, name in enumerate(["01", "02", "03"]):
        hub.deliver(courier(name, T0 + timedelta(minutes=10 + i)))
    assert len(hub.dead_letters) == len(bad)
    hub.tick(T0 + timedelta(minutes=20))
    [case] = feed_cases(hub, "PARTNER_FEED_DEGRADED")
    assert (case.status, case.severity.value) == (CaseStatus.OPEN, "MEDIUM")
    assert "5 of 8 messages dead-lettered in the last 60 min (62%; limit 20%)" in case.summary
    assert [e.recipient_role for e in hub.escalations if e.case_id == case.case_id] == [
        "integration-ops"
    ]
    # an hour of good messages later the bad ones have left the window: resolved by the hub
    for i, name in enumerate(["04", "05", "06", "08", "09"]):
        hub.deliver(courier(name, T0 + timedelta(minutes=70 + i)))
    hub.tick(T0 + timedelta(minutes=80))
    [resolved] = feed_cases(hub, "PARTNER_FEED_DEGRADED")
    assert (resolved.status, resolved.resolved_by) == (CaseStatus.RESOLVED, HUB_ACTOR)
    assert feed_cases(hub, "PARTNER_FEED_SILENT") == []


def test_an_event_produced_under_a_feed_key_is_refused_and_leaves_the_row_alone(
    core: FlowCore,
) -> None:
    hub = MemoryHub(core)
    hub.deliver(courier("01", T0))
    hub.tick(T0 + timedelta(minutes=5))
    row = hub.chains[KEY]
    [event] = [e for e in core.ingest(courier("02", T0)).events][:1]
    hub.inject(event.model_copy(update={"coi_id": KEY}), route=False)
    assert hub.dead_letters[-1].rejection.code == "NO_COI"
    assert "partner feed" in hub.dead_letters[-1].rejection.reason
    assert hub.chains[KEY] is row
