"""Reconstruction as of a time: the chain the hub knew then, replayed through the flow core,
different before and after a later record, and proven by reproducing the recorded hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.audit.reconstruct import known_at, reconstruct
from hub.audit.records import AuditKind
from hub.chain.profiles import load_profiles
from hub.flow import FlowCore
from tests.unit.audit.conftest import PROFILES, Made, records_of

pytestmark = pytest.mark.req("REQ-P11-RECONSTRUCT")


def test_the_view_before_and_after_a_later_record_differs(core: FlowCore, made: Made) -> None:
    coi = made.cois[1]
    records = records_of(made, coi)
    oos = next(r for r in records if r.ref == f"{made.case_id}@1")
    qc = records[oos.seq - 2]  # the QC result that opened it
    assert (qc.kind, qc.action) == (AuditKind.EVENT, "QC_RESULT_RECORDED")
    before = reconstruct(core, coi, records, qc.at - timedelta(seconds=1))
    after = reconstruct(core, coi, records, qc.at)
    assert made.case_id not in {c.case_id for c in before.cases}
    assert made.case_id in {c.case_id for c in after.open_cases}
    assert before.chain is not None
    assert after.chain is not None
    assert before.chain.audit.seq == qc.seq - 1
    assert after.chain.audit.seq == oos.seq  # the record and the case version it made
    assert len(before.records) < len(after.records) < len(records)
    for view in (before, after):
        assert view.faithful, view.mismatches
        assert view.replayed == len(view.records)
    latest = reconstruct(core, coi, records, records[-1].at)
    [case] = [c for c in latest.cases if c.case_id == made.case_id]
    assert (case.status.value, case.acknowledged_by) == ("ACKNOWLEDGED", "qp-anna")
    assert [r.actor for r in latest.commands()] == ["qp-anna"]
    assert latest.chain is not None
    assert latest.chain.audit.hash == records[-1].hash


def test_before_the_first_record_the_hub_knew_nothing(core: FlowCore, made: Made) -> None:
    records = records_of(made, made.cois[0])
    view = reconstruct(core, made.cois[0], records, records[0].at - timedelta(days=1))
    assert view.chain is None
    assert view.records == []
    assert view.total == len(records)


def test_a_record_applied_after_a_later_one_stops_the_view_there(made: Made) -> None:
    records = records_of(made, made.cois[2])
    late = records[10].model_copy(update={"at": records[12].at + timedelta(hours=1)})
    mixed = [*records[:10], late, *records[11:]]
    assert [r.seq for r in known_at(mixed, records[12].at)] == list(range(1, 11))


def test_a_different_configuration_shows_in_the_replay(core: FlowCore, made: Made) -> None:
    coi = made.cois[0]
    profiles = load_profiles(PROFILES)
    stricter = profiles["cart-fresh-48h"].model_copy(update={"fresh_stability_h": 1})
    other = FlowCore(core.connectors, {**profiles, "cart-fresh-48h": stricter}, core.policy)
    records = records_of(made, coi)
    view = reconstruct(other, coi, records, records[-1].at)
    assert not view.faithful
    assert view.replayed < len(view.records)


def test_e_signatures_carried_by_a_case_version_are_listed(core: FlowCore, made: Made) -> None:
    records = records_of(made, made.cois[1])
    version = records[-1]
    signed = {**version.body, "signatures": [{"signer": "qp-anna", "meaning": "reviewed"}]}
    records[-1] = version.model_copy(update={"body": signed})
    view = reconstruct(core, made.cois[1], records, records[-1].at)
    [(record, path, value)] = view.signatures()
    assert (record.seq, path) == (version.seq, "signatures")
    assert value[0]["meaning"] == "reviewed"
