"""Chain of Custody rules: every handover has a releasing and an accepting side; custody is
continuous, never nobody and never two parties at once.

CUSTODY_GAP, DOUBLE_CUSTODY, UNVERIFIED_HANDOVER.

The collection site holds the material from COLLECTION_COMPLETED; a CUSTODY_RELEASED opens a
handover (the material is in transit), the matching CUSTODY_ACCEPTED closes it and makes the
receiving party the holder. A release that arrives after its acceptance (partners report at
different speeds) is recorded and opens nothing. For the same reason an acceptance while another
party holds the material is DOUBLE_CUSTODY only if no release dated before it arrives within the
profile's custody grace (a deadline).
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
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
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.CUSTODY_ACCEPTED,),
)
DOUBLE_CUSTODY = entry(
    "DOUBLE_CUSTODY",
    "Two custodians at once",
    Severity.MEDIUM,
    "logistics",
    evidence=("the holder's last custody event", "the acceptance"),
    playbook=(
        "Establish with both parties who physically holds the material",
        "Have the previous holder record the missing release (with time and signature)",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.CUSTODY_RELEASED,),
)
UNVERIFIED_HANDOVER = entry(
    "UNVERIFIED_HANDOVER",
    "Custody accepted without identity check",
    Severity.HIGH,
    "receiving site",
    evidence=("acceptance event (verifier, identity scan flag)",),
    playbook=(
        "Scan the label identifiers (COI + DIN) now and record who verified them",
        "Hold the material until identity is confirmed",
        "Retrain or fix the receiving workflow so acceptance requires the scan",
    ),
    timing=Timing.AT_ONCE,
)


def _party(event: Event) -> str | None:
    if event.actor and event.actor.organisation:
        return event.actor.organisation
    return event.location.id if event.location else None


@rule(EventType.COLLECTION_COMPLETED)
def collection_holds(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    ledger = state.custody
    if ledger.holder is None and not ledger.open_handovers and not ledger.accepted:
        ledger.holder = _party(event)
        ledger.history.append(event.event_id)
    return ()


@rule(EventType.CUSTODY_RELEASED)
def open_handover(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, CustodyDetail):
        return ()
    ledger = state.custody
    ledger.history.append(event.event_id)
    if detail.handover_id in ledger.accepted:
        if event.occurred_at <= ledger.accepted[detail.handover_id]:
            state.clear_deadline(DOUBLE_CUSTODY.code, detail.handover_id)
        return ()
    ledger.open_handovers[detail.handover_id] = OpenHandover(
        handover_id=detail.handover_id,
        releasing_party=detail.releasing_party,
        receiving_party=detail.receiving_party,
        lane=detail.lane,
        released_at=event.occurred_at,
        release_event_id=event.event_id,
    )
    ledger.holder = None
    ledger.in_transit_with = event.actor.organisation if event.actor else None
    due = event.occurred_at + profile.turnaround(detail.lane) + profile.custody_grace
    state.set_deadline(
        CUSTODY_GAP.code,
        detail.handover_id,
        due,
        [event.event_id],
        f"released by {detail.releasing_party} towards {detail.receiving_party} "
        f"on lane {detail.lane or 'unknown'}; no acceptance by {due.isoformat()}",
    )
    return ()


@rule(EventType.CUSTODY_ACCEPTED)
def close_handover(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """Detect first (the ledger before this acceptance), then book the new holder."""
    detail = event.detail
    if not isinstance(detail, CustodyDetail):
        return ()
    ledger = state.custody
    findings: list[Finding] = []
    hid = detail.handover_id
    receiver = detail.receiving_party
    if hid not in ledger.open_handovers and hid not in ledger.accepted:
        others = sorted(h for h in ledger.open_handovers if h != hid)
        if (ledger.holder is not None and ledger.holder != receiver) or others:
            still = ledger.holder or f"the carrier of handover {others[0]}"
            state.set_deadline(
                DOUBLE_CUSTODY.code,
                hid,
                event.occurred_at + profile.custody_grace,
                [*ledger.history[-1:], event.event_id],
                f"{receiver} accepted handover {hid} at {event.occurred_at.isoformat()} while "
                f"{still} still held the material (no release recorded)",
            )
    if not detail.verified_by or detail.identity_scanned is not True:
        missing = [
            name
            for name, ok in (
                ("verifier", bool(detail.verified_by)),
                ("identity scan", detail.identity_scanned is True),
            )
            if not ok
        ]
        if hid not in state.readiness.unverified_handovers:
            state.readiness.unverified_handovers.append(hid)
        findings.append(
            UNVERIFIED_HANDOVER.finding(
                state,
                hid,
                event.occurred_at,
                f"{receiver} accepted handover {hid} without {' and '.join(missing)}",
                [event.event_id],
            )
        )
    ledger.history.append(event.event_id)
    ledger.open_handovers.pop(hid, None)
    ledger.accepted[hid] = event.occurred_at
    ledger.holder = receiver
    ledger.in_transit_with = None
    state.clear_deadline(CUSTODY_GAP.code, hid)
    return findings


@deadline(DOUBLE_CUSTODY.code)
def double_custody(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    """Still no release (dated before the acceptance) after the custody grace."""
    return (DOUBLE_CUSTODY.due_finding(state, due),)


@deadline(CUSTODY_GAP.code)
def custody_gap(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if due.subject not in state.custody.open_handovers:
        return ()
    return (
        CUSTODY_GAP.finding(
            state,
            due.subject,
            due.due_at,
            f"Handover {due.subject} {due.summary}",
            due.evidence_event_ids,
        ),
    )
