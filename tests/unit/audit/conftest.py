"""A small audit trail made by the flow core in memory: three chains, a case, a command and
signed checkpoints, as JSON data and as a written export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit.checkpoint import Checkpointer
from hub.audit.configfiles import changes, snapshot
from hub.audit.files import Trail, write_export
from hub.audit.keys import Ed25519PrivateKey, public_pem
from hub.audit.records import AuditHead, AuditRecord
from hub.cases.commands import CaseAction, CaseCommand
from hub.events.models import EventType
from hub.flow import FlowCore
from hub.flow.memory import MemoryHub
from hub.settings import REPO_ROOT
from tests.scenarios.builders import Story

PROFILES = REPO_ROOT / "hub" / "chain" / "profiles"
POLICY = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
PARTNERS = REPO_ROOT / "deploy" / "partners"


@pytest.fixture(scope="session")
def core() -> FlowCore:
    return FlowCore.from_files(PROFILES, POLICY, b"test-key")


def oos_story(n: int = 2) -> Story:
    """An order, then a QC result out of specification: a critical case on the chain."""
    story = Story("cart-fresh-48h", n)
    story.phase_order()
    story.qc("VIABILITY", story.t.qc_start, value=41.0)  # specification: >= 80 %
    return story


def feed(hub: MemoryHub, story: Story, every: timedelta = timedelta(hours=6)) -> None:
    for event in story.stream(every=every):
        if event.event_type is EventType.CLOCK_TICK:
            hub.tick(event.occurred_at, 0, event)
        else:
            hub.inject(event, route=False)


@dataclass
class Made:
    hub: MemoryHub
    key: Ed25519PrivateKey
    trail: Trail
    cois: list[str]
    case_id: str

    @staticmethod
    def trail_interval() -> timedelta:
        return timedelta(hours=1)

    def chain(self, coi: str) -> list[dict]:
        return [r for r in self.trail.records if r["chain"] == coi]


def make_trail(core: FlowCore) -> Made:
    """Three chains on two partitions, a checkpoint of each partition after every chain's
    story, and an acknowledgement of the critical case after the last checkpoint."""
    key = Ed25519PrivateKey.generate()
    config_head, config = changes(
        AuditHead(), {}, snapshot(PROFILES, POLICY, PARTNERS), datetime(2026, 1, 1, tzinfo=UTC),
        "hub:test",
    )  # fmt: skip
    signer = Checkpointer(key, Made.trail_interval())
    hub = MemoryHub(core)
    stories = [Story("cart-fresh-48h", 1).clean(), oos_story(2), Story("default", 3).clean()]
    checkpoints = []
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    for n, story in enumerate(stories):
        feed(hub, story)
        clock = max(clock, max(r.at for r in hub.audit)) + timedelta(hours=2)
        for part in (0, 1):
            heads = {
                c.coi_id: (c.audit.seq, c.audit.hash)
                for i, c in enumerate(hub.chains.values())
                if i % 2 == part and c.audit.hash
            }
            made = signer.make(part, clock + timedelta(minutes=n), heads)
            if made is not None:
                checkpoints.append(made.as_json())
    case_id = next(c.case_id for c in hub.cases.values() if c.code == "QC_OUT_OF_SPEC")
    ack = CaseCommand(
        command_id="cmd-1",
        case_id=case_id,
        action=CaseAction.ACKNOWLEDGE,
        actor="qp-anna",
        at=clock + timedelta(hours=1),
        reason="investigating",
    )
    hub.command(stories[1].coi, ack)
    trail = Trail(
        records=[r.as_json() for r in hub.audit],
        checkpoints=checkpoints,
        config=[r.as_json() for r in config],
    )
    assert config_head.seq == len(config)
    return Made(hub, key, trail, [s.coi for s in stories], case_id)


@pytest.fixture(scope="session")
def made(core: FlowCore) -> Made:
    """Shared: tests that tamper work on a deep copy of its trail."""
    return make_trail(core)


@pytest.fixture
def export_dir(made: Made, tmp_path: Path) -> Path:
    out = tmp_path / "export"
    write_export(made.trail, out, public_pem(made.key.public_key()))
    return out


def records_of(made: Made, coi: str) -> list[AuditRecord]:
    return [AuditRecord.model_validate(r) for r in made.chain(coi)]
