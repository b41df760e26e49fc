"""Quality and release rules: QC_OUT_OF_SPEC, RELEASE_EVIDENCE_INCOMPLETE, SHIPPED_BEFORE_RELEASE.

Release readiness (:func:`missing_evidence`) needs: every required QC test's latest final result
in specification, every deviation closed, the batch record reviewed, every accepted handover
verified (verifier + identity scan), no failed identity check, and a complete temperature
record for the inbound shipment(s) (readings present, no data gap).

RELEASE_EVIDENCE_INCOMPLETE has two subjects: ``planned-ship`` (HIGH, the catalogue's severity)
when evidence is still missing at planned ship time minus the profile's margin, and
``certification`` (CRITICAL, per-finding severity) when a RELEASE_DECIDED certifies a product
whose evidence is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile, QcSpec
from hub.chain.rules.logistics import leg_at
from hub.chain.state import ChainState, Deadline, QcRecord
from hub.chain.vocab import (
    DEVIATION_CLOSED,
    QC_NOT_FINAL,
    QC_OOS,
    QC_PASS,
    REJECTED,
    REVIEWED,
    is_certified,
    norm,
)
from hub.events.models import (
    DeviationDetail,
    Event,
    EventType,
    QcResultDetail,
    QualityDecisionDetail,
    ScheduleDetail,
)

QC_OUT_OF_SPEC = entry(
    "QC_OUT_OF_SPEC",
    "QC result out of specification",
    Severity.CRITICAL,
    "QA / QP + physician",
    evidence=("LIMS result", "specification (profile or LIMS)"),
    playbook=(
        "Start the OOS investigation (phase I laboratory check)",
        "QP and treating physician assess the product's use (e.g. exceptional release)",
        "Inform the sponsor; record the decision with its rationale",
    ),
    timing=Timing.AT_ONCE,
)
RELEASE_EVIDENCE_INCOMPLETE = entry(
    "RELEASE_EVIDENCE_INCOMPLETE",
    "Release evidence incomplete near planned ship date or at certification",
    Severity.HIGH,
    "QA / QP",
    evidence=("release checklist (missing items)", "planned ship date / release decision"),
    playbook=(
        "Chase the missing items (QC results, deviation closure, batch record review)",
        "Move the planned ship date and inform the site if evidence cannot be complete",
        "If certified without evidence: recall the certification before the product ships",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(
        EventType.QC_RESULT_RECORDED,
        EventType.DEVIATION_CLOSED,
        EventType.BATCH_RECORD_REVIEWED,
        EventType.RELEASE_DECIDED,
    ),
    ends_with_chain=True,
)
SHIPPED_BEFORE_RELEASE = entry(
    "SHIPPED_BEFORE_RELEASE",
    "Product shipped before QP certification",
    Severity.CRITICAL,
    "QP",
    evidence=("shipment departure", "release decision (absent or later)"),
    playbook=(
        "Stop the shipment or quarantine on arrival; the product must not be used",
        "QP completes or refuses certification; document as a deviation",
        "Inform the treatment site not to start lymphodepletion",
    ),
    timing=Timing.AFTER_LATENESS,
)

_PLANNED_SHIP = "planned-ship"
_CERTIFICATION = "certification"


def qc_in_spec(detail: QcResultDetail, spec: QcSpec | None) -> bool | None:
    """True / False, or None when neither the result nor a specification says."""
    if detail.out_of_spec is True or norm(detail.status) in QC_OOS:
        return False
    value, text = detail.result_value, norm(detail.result_text)
    if spec is not None:
        if value is not None and (spec.low is not None or spec.high is not None):
            return (spec.low is None or value >= spec.low) and (
                spec.high is None or value <= spec.high
            )
        if text and spec.accepted:
            return text in {norm(a) for a in spec.accepted}
    if value is not None and (detail.spec_low is not None or detail.spec_high is not None):
        return (detail.spec_low is None or value >= detail.spec_low) and (
            detail.spec_high is None or value <= detail.spec_high
        )
    if text and detail.spec_text:
        return text == norm(detail.spec_text)
    if detail.out_of_spec is False or norm(detail.status) in QC_PASS:
        return True
    return None


@rule(EventType.QC_RESULT_RECORDED)
def qc_result(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, QcResultDetail):
        return ()
    test = norm(detail.test_code)
    spec = profile.qc_tests.get(test)
    in_spec = qc_in_spec(detail, spec)
    previous = state.readiness.qc.get(test)
    if previous is None or event.occurred_at >= previous.occurred_at:
        state.readiness.qc[test] = QcRecord(
            test_code=test,
            in_spec=in_spec,
            final=norm(detail.status) not in QC_NOT_FINAL,
            event_id=event.event_id,
            occurred_at=event.occurred_at,
        )
    if in_spec is not False:
        return ()
    result = detail.result_text if detail.result_value is None else f"{detail.result_value:g}"
    unit = detail.unit or (spec.unit if spec is not None else None)
    unit = f" {unit}" if unit else ""
    if spec is not None:
        low = "" if spec.low is None else f"{spec.low:g}"
        high = "" if spec.high is None else f"{spec.high:g}"
        limits = f"{low}..{high}" + (f" / {', '.join(spec.accepted)}" if spec.accepted else "")
    else:
        limits = detail.spec_text or f"{detail.spec_low}..{detail.spec_high}"
    return (
        QC_OUT_OF_SPEC.finding(
            state,
            test,
            event.occurred_at,
            f"{test} = {result}{unit} outside specification {limits} (status {detail.status})",
            [event.event_id],
        ),
    )


@rule(EventType.DEVIATION_OPENED, EventType.DEVIATION_CLOSED)
def deviation(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, DeviationDetail):
        return ()
    closed = event.event_type is EventType.DEVIATION_CLOSED or norm(detail.status) in (
        DEVIATION_CLOSED
    )
    deviations = state.readiness.deviations
    if closed:
        deviations[detail.deviation_id] = "CLOSED"
    elif deviations.get(detail.deviation_id) != "CLOSED":
        deviations[detail.deviation_id] = "OPEN"
    return ()


@rule(EventType.BATCH_RECORD_REVIEWED)
def batch_record(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if isinstance(detail, QualityDecisionDetail):
        state.readiness.batch_record_reviewed = norm(detail.decision) in REVIEWED
    return ()


def missing_evidence(state: ChainState, profile: ProductProfile) -> list[str]:
    """What is still missing for release, in a stable order (empty = release-ready)."""
    ready = state.readiness
    missing: list[str] = []
    for test, spec in sorted(profile.qc_tests.items()):
        record = ready.qc.get(test)
        if spec.required and record is None:
            missing.append(f"QC {test}: no result")
        elif spec.required and record is not None and not record.final:
            missing.append(f"QC {test}: result not final")
    for test, record in sorted(ready.qc.items()):
        if record.in_spec is False:
            missing.append(f"QC {test}: out of specification")
        elif record.in_spec is None and test in profile.qc_tests:
            missing.append(f"QC {test}: result cannot be assessed against the specification")
    missing += [f"deviation {d} open" for d, s in sorted(ready.deviations.items()) if s == "OPEN"]
    if not ready.batch_record_reviewed:
        missing.append("batch record not reviewed")
    missing += [f"handover {h} accepted unverified" for h in ready.unverified_handovers]
    checks = ready.identity_checks
    missing += [f"identity check at {c} failed" for c, ok in checks.items() if not ok]
    for sid, track in sorted(state.shipment_tracks.items()):
        if track.leg != "inbound" or track.departed_at is None:
            continue
        if not state.temperatures.readings.get(sid):
            missing.append(f"no temperature record for shipment {sid}")
        missing += [
            f"temperature record gap {g}" for g in state.temperatures.gaps if g.startswith(sid)
        ]
    return missing


@rule(EventType.THERAPY_ORDERED, EventType.SLOT_BOOKED, EventType.SLOT_RESCHEDULED)
def ship_date_watch(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    ship = state.plan.planned_ship_at
    if not isinstance(detail, ScheduleDetail) or detail.planned_ship_at is None or ship is None:
        return ()
    if state.readiness.certified_at is not None:
        return ()
    due = ship - profile.release_ready_margin
    state.set_deadline(
        RELEASE_EVIDENCE_INCOMPLETE.code,
        _PLANNED_SHIP,
        due,
        [event.event_id],
        f"planned ship {ship.isoformat()}; not release-ready {profile.release_ready_margin_h:g} "
        "h before",
    )
    return ()


@deadline(RELEASE_EVIDENCE_INCOMPLETE.code)
def not_ready_for_ship(
    state: ChainState, due: Deadline, profile: ProductProfile
) -> Iterable[Finding]:
    missing = missing_evidence(state, profile)
    if state.readiness.certified_at is not None or not missing:
        return ()
    return (
        RELEASE_EVIDENCE_INCOMPLETE.finding(
            state,
            due.subject,
            due.due_at,
            f"{due.summary}: " + "; ".join(missing),
            due.evidence_event_ids,
        ),
    )


@rule(EventType.RELEASE_DECIDED)
def release_decided(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, QualityDecisionDetail):
        return ()
    ready = state.readiness
    if norm(detail.decision) in REJECTED:
        ready.rejected_at = event.occurred_at
        return ()
    if not is_certified(detail.decision):
        return ()
    if ready.certified_at is None or event.occurred_at < ready.certified_at:
        ready.certified_at = event.occurred_at
    state.clear_deadline(RELEASE_EVIDENCE_INCOMPLETE.code, _PLANNED_SHIP)
    missing = missing_evidence(state, profile)
    if not missing:
        return ()
    return (
        RELEASE_EVIDENCE_INCOMPLETE.finding(
            state,
            _CERTIFICATION,
            event.occurred_at,
            f"product certified ({detail.decision}) without release-ready evidence: "
            + "; ".join(missing),
            [event.event_id],
            severity=Severity.CRITICAL,
        ),
    )


@rule(EventType.SHIPMENT_DEPARTED)
def shipped_before_release(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    sid = event.identifiers.shipment_id or event.event_id
    if leg_at(state, event.occurred_at) != "outbound":
        return ()
    certified = state.readiness.certified_at
    if certified is not None and certified <= event.occurred_at:
        return ()
    when = f"certified only at {certified.isoformat()}" if certified else "no certification"
    return (
        SHIPPED_BEFORE_RELEASE.finding(
            state,
            sid,
            event.occurred_at,
            f"outbound shipment {sid} departed {event.occurred_at.isoformat()}; {when}",
            [event.event_id],
        ),
    )
