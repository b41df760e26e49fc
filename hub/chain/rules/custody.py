"""Chain of Custody rules: every handover has a releasing and an accepting side."""

from __future__ import annotations

from collections.abc import Iterable

from hub.cases.models import Severity
from hub.chain.catalogue import deadline, entry, rule
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline, OpenHandover
from hub.events.models import CustodyDetail, Event, EventType

CUSTODY_GAP = entry(
    "CUSTODY_GAP",
    "Handover released, never accepted",
    Severity.HIGH,
    "logistics",
    evidence=("release event", "last custody events", "lane turnaround"),
    playbook=(
        "Call the carrier for the shipment's last scan and current holder",
        "Confirm with the receiving site whether the material arrived",
        "Record the acceptance (or loss) with who, when and identity verification",
    ),
)


@rule(EventType.CUSTODY_RELEASED)
def open_handover(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, CustodyDetail):
        return ()
    state.custody.open_handovers[detail.handover_id] = OpenHandover(
        handover_id=detail.handover_id,
        releasing_party=detail.releasing_party,
        receiving_party=detail.receiving_party,
        lane=detail.lane,
        released_at=event.occurred_at,
        release_event_id=event.event_id,
    )
    state.custody.holder = None
    state.custody.in_transit_with = event.actor.organisation if event.actor else None
    due = event.occurred_at + profile.turnaround(detail.lane) + profile.custody_grace
    state.deadlines.append(
        Deadline(
            code=CUSTODY_GAP.code,
            subject=detail.handover_id,
            due_at=due,
            evidence_event_ids=[event.event_id],
            summary=(
                f"released by {detail.releasing_party} towards {detail.receiving_party} "
                f"on lane {detail.lane or 'unknown'}; no acceptance by {due.isoformat()}"
            ),
        )
    )
    return ()


@rule(EventType.CUSTODY_ACCEPTED)
def close_handover(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, CustodyDetail):
        return ()
    state.custody.open_handovers.pop(detail.handover_id, None)
    state.custody.holder = detail.receiving_party
    state.custody.in_transit_with = None
    state.deadlines = [
        d
        for d in state.deadlines
        if not (d.code == CUSTODY_GAP.code and d.subject == detail.handover_id)
    ]
    return ()


@deadline(CUSTODY_GAP.code)
def custody_gap(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if due.subject not in state.custody.open_handovers:
        return ()
    return (
        Finding(
            code=CUSTODY_GAP.code,
            coi_id=state.coi_id,
            subject=due.subject,
            occurred_at=due.due_at,
            summary=f"Handover {due.subject} {due.summary}",
            evidence_event_ids=due.evidence_event_ids,
        ),
    )
