"""The courier samples in any delivery order, each received a minute after it happened (on time
by its own stamps), through the in-memory hub: the hub's pipeline may hand them to the chain in
any order (raw records keyed by message id land on several partitions), and the chain ends with
the cases of event-time order. A case an early judgement raised is withdrawn by the hub, with
the record that disproved it as evidence and a withdrawal notice; the others are untouched."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.audit.verify import verify
from hub.cases.lifecycle import WITHDRAWN_BY
from hub.cases.models import CaseStatus
from hub.flow import FlowCore
from hub.flow.memory import MemoryHub

pytestmark = pytest.mark.req("REQ-INV-04")

PAYLOADS = [p.read_bytes() for p in sample_files("courier")]
SHUFFLES = 200


def happened(payload: bytes) -> datetime:
    return datetime.fromisoformat(json.loads(payload)["event_time"]).astimezone(UTC)


def delivered(core: FlowCore, order: list[bytes]) -> MemoryHub:
    """``order`` delivered to a new hub, each stamped as received a minute after it happened,
    then a tick three days after the last."""
    hub = MemoryHub(core)
    for payload in order:
        hub.deliver(RawMessage("courier", payload, happened(payload) + timedelta(minutes=1)))
    hub.tick(max(happened(p) for p in PAYLOADS) + timedelta(days=3))
    return hub


def standing(hub: MemoryHub) -> set[tuple[str, str]]:
    return {(c.code, c.subject) for c in hub.latest_cases() if c.status is not CaseStatus.WITHDRAWN}


def test_any_delivery_order_of_the_courier_samples_ends_with_the_cases_of_event_time(
    core: FlowCore,
) -> None:
    expected = standing(delivered(core, sorted(PAYLOADS, key=happened)))
    assert {code for code, _ in expected} == {"CUSTOMS_HOLD", "DIN_UNLINKED"}
    differ, withdrawn = 0, 0
    for seed in range(SHUFFLES):
        order = list(PAYLOADS)
        random.Random(seed).shuffle(order)
        hub = delivered(core, order)
        differ += standing(hub) != expected
        withdrawn += any(c.status is CaseStatus.WITHDRAWN for c in hub.latest_cases())
    print(
        f"courier samples, {SHUFFLES} delivery orders: {differ} end with other cases than "
        f"event-time order; {withdrawn} raised a case the hub withdrew on re-judging"
    )
    assert differ == 0


def test_a_case_disproved_on_re_judging_is_withdrawn_and_the_others_are_untouched(
    core: FlowCore,
) -> None:
    """The pick-up, then the customs samples of the next day (the hub's clock passes the
    handover's deadline: a custody gap, as far as the hub knows), then the signed delivery
    that happened before them and the rest: re-judged, the handover closed in time."""
    by_name = {p.name: p.read_bytes() for p in sample_files("courier")}
    names = ["01", "05", "06", "07", "08", "02", "03", "04", "09"]
    order = [next(b for n, b in by_name.items() if n.startswith(k)) for k in names]
    hub = delivered(core, order)
    assert standing(hub) == standing(delivered(core, sorted(PAYLOADS, key=happened)))

    gaps = [c for c in hub.versions if c.code == "CUSTODY_GAP"]
    assert [c.status for c in gaps] == [CaseStatus.OPEN, CaseStatus.WITHDRAWN]
    gone = gaps[-1]
    assert gone.resolved_by == WITHDRAWN_BY
    signed = RawMessage("courier", by_name["08-delivered-signed.json"], datetime.now(UTC))
    accepted = {
        e.event_id for e in core.ingest(signed).events if e.event_type.value.startswith("CUSTODY")
    }
    assert accepted & (set(gone.evidence_event_ids) - set(gaps[0].evidence_event_ids))
    notices = [e for e in hub.escalations if e.case_id == gone.case_id]
    assert notices[-1].reason == "WITHDRAWN"  # everyone notified is told
    assert all(e.issued_at <= gone.detected_at for e in notices)  # re-escalation stopped

    # the withdrawal is on the chain's audit trail after the record, its hash chain whole
    trail = [r.as_json() for r in hub.audit]
    verdict = verify(trail, [], [], Ed25519PrivateKey.generate().public_key())
    assert not verdict.problems
    withdrawal = [r for r in trail if r["kind"] == "CASE_VERSION" and gone.case_id in json.dumps(r)]
    assert "WITHDRAWN" in json.dumps(withdrawal[-1])

    holds = [c for c in hub.versions if c.code == "CUSTOMS_HOLD"]
    assert sorted(c.version for c in holds) == [1, 1]  # untouched by the re-judging
    first = [e for e in hub.escalations if e.code == "CUSTOMS_HOLD" and e.level == 1]
    assert len(first) == 2  # one level-1 escalation each, none repeated
