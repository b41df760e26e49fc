"""Data-quality rules: how partners report, not what happened to the material.

DUPLICATE_CONFLICT, LATE_EVENT, OUT_OF_SEQUENCE, TIMEZONE_MISSING, RECORD_CORRECTED.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

from hub.chain.catalogue import BUSINESS_EVENTS, Timing, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState
from hub.events.models import (
    ClinicalDetail,
    CorrectionDetail,
    CustodyDetail,
    DeviationDetail,
    Event,
    EventType,
    IdentityCheckDetail,
    LinkDetail,
    QcResultDetail,
    ShipmentDetail,
    TemperatureDetail,
)

DUPLICATE_CONFLICT = entry(
    "DUPLICATE_CONFLICT",
    "Same business event reported twice with different content",
    Severity.MEDIUM,
    "integration ops",
    evidence=("both payloads (first and conflicting event)", "business key"),
    playbook=(
        "Compare both payloads and ask the partner which one is valid",
        "Have the partner send a correction (errorDeclaration) for the wrong one",
        "Check whether a rule acted on the wrong payload and reassess its cases",
    ),
    timing=Timing.AFTER_LATENESS,
)
LATE_EVENT = entry(
    "LATE_EVENT",
    "Event reported later than the partner SLA",
    Severity.LOW,
    "partner",
    evidence=("event time and record time", "SLA of the product profile"),
    playbook=(
        "Ask the partner why the event was reported late",
        "Check whether a deadline fired on incomplete information and reassess",
    ),
    timing=Timing.AT_ONCE,
)
OUT_OF_SEQUENCE = entry(
    "OUT_OF_SEQUENCE",
    "Step reported out of the vein-to-vein order",
    Severity.MEDIUM,
    "integration ops",
    evidence=("the event", "the missing or later prerequisite milestone"),
    playbook=(
        "Check with the partner whether the prerequisite step happened and was not reported",
        "If it did not happen, escalate to QA: the process was not followed",
        "Correct the timeline (correction message) when a timestamp was wrong",
    ),
    timing=Timing.AFTER_LATENESS,
)
TIMEZONE_MISSING = entry(
    "TIMEZONE_MISSING",
    "Timestamp without UTC offset (ambiguous time)",
    Severity.MEDIUM,
    "partner",
    evidence=("raw message", "field whose offset was missing"),
    playbook=(
        "Ask the partner to send the UTC offset with every timestamp",
        "Confirm the true time of the event with the partner and correct the record",
    ),
    timing=Timing.AT_ONCE,
)
RECORD_CORRECTED = entry(
    "RECORD_CORRECTED",
    "Partner corrected or retracted a record",
    Severity.MEDIUM,
    "QA review",
    evidence=("original event(s)", "correction message", "reason"),
    playbook=(
        "Review the original and the correction with QA",
        "Reassess cases and release evidence that relied on the original record",
        "File the correction in the batch documentation",
    ),
    timing=Timing.AT_ONCE,
)

_PREREQUISITES: dict[EventType, tuple[EventType, ...]] = {
    EventType.MATERIAL_RECEIVED: (EventType.COLLECTION_COMPLETED,),
    EventType.MANUFACTURING_STARTED: (EventType.MATERIAL_RECEIVED,),
    EventType.MANUFACTURING_STEP_COMPLETED: (EventType.MANUFACTURING_STARTED,),
    EventType.CRYOPRESERVED: (EventType.MANUFACTURING_STARTED,),
    EventType.MANUFACTURING_COMPLETED: (EventType.MANUFACTURING_STARTED,),
    EventType.RELEASE_DECIDED: (EventType.MANUFACTURING_COMPLETED,),
    EventType.PRODUCT_RECEIVED_AT_SITE: (EventType.MANUFACTURING_COMPLETED,),
    EventType.PRODUCT_THAWED: (EventType.PRODUCT_RECEIVED_AT_SITE,),
    EventType.INFUSION_COMPLETED: (EventType.PRODUCT_THAWED,),
}
"""A step may happen only after these milestones (DOMAIN.md section 1). LD before release and
shipping before release have their own, more severe codes and are not listed here."""

_CONTENT_FIELDS: set[str] = {
    "patient_ref",
    "identifiers",
    "actor",
    "location",
    "biz_step",
    "disposition",
    "detail",
}


def business_key(event: Event) -> str:
    """What makes two events 'the same business event': type, the detail's own subject and the
    event time. Two events with one key should carry one content."""
    detail = event.detail
    ids = event.identifiers
    subject: str | None = None
    if isinstance(detail, CustodyDetail):
        subject = detail.handover_id
    elif isinstance(detail, ShipmentDetail):
        subject = f"{ids.shipment_id}/{detail.status}"
    elif isinstance(detail, TemperatureDetail):
        subject = detail.logger_id or ids.logger_id or ids.shipment_id
    elif isinstance(detail, QcResultDetail):
        subject = f"{ids.sample_id or ids.batch_id}/{detail.test_code}"
    elif isinstance(detail, DeviationDetail):
        subject = f"{detail.deviation_id}/{detail.status}"
    elif isinstance(detail, IdentityCheckDetail):
        subject = detail.checkpoint
    elif isinstance(detail, ClinicalDetail):
        subject = detail.procedure
    elif isinstance(detail, CorrectionDetail):
        subject = ",".join(sorted(detail.corrected_event_ids))
    elif isinstance(detail, LinkDetail):
        subject = f"{detail.id_kind}/{detail.id_value}"
    return f"{event.event_type.value}|{subject or ''}|{event.occurred_at.isoformat()}"


def content_digest(event: Event) -> str:
    """A stable digest of what the event says (not who sent it when, nor its ids). Fields at
    their defaults are left out, so adding an optional field to the schema later does not make
    a replayed event look different."""
    payload = event.model_dump_json(include=_CONTENT_FIELDS, exclude_defaults=True)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=10).hexdigest()


# Business key and digest of recently judged events, by object (events are frozen): a chain
# re-judged in event time (hub.chain.engine) judges its recent records again. A pure memo.
_IDENTITIES: OrderedDict[int, tuple[Event, str, str]] = OrderedDict()
_IDENTITIES_MAX = 8_192


def _identity(event: Event) -> tuple[str, str]:
    known = _IDENTITIES.get(id(event))
    if known is not None and known[0] is event:
        return known[1], known[2]
    key, digest = business_key(event), content_digest(event)
    _IDENTITIES[id(event)] = (event, key, digest)
    if len(_IDENTITIES) > _IDENTITIES_MAX:
        _IDENTITIES.popitem(last=False)
    return key, digest


def screen_duplicate(state: ChainState, event: Event) -> tuple[bool, list[Finding]]:
    """Called by the engine before any rule. Returns ``(absorbed, findings)``: an exact
    business duplicate is absorbed (no rule sees it again); a conflicting one is reported as
    DUPLICATE_CONFLICT and still goes through the rules, so a safety signal in the second
    payload (an out-of-spec value, say) is never hidden. The first payload stays the reference.
    """
    key, digest = _identity(event)
    prior = state.business_keys.get(key)
    if prior is None:
        state.business_keys[key] = f"{digest} {event.event_id}"
        return False, []
    prior_digest, _, prior_id = prior.partition(" ")
    if prior_digest == digest:
        return True, []
    return False, [
        DUPLICATE_CONFLICT.finding(
            state,
            key,
            event.occurred_at,
            f"{event.event_type.value} from {event.source.partner} "
            f"(message {event.source.message_id}) repeats business key {key} with different "
            f"content than event {prior_id}",
            [prior_id, event.event_id],
        )
    ]


@rule(*BUSINESS_EVENTS)
def late_event(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """Later than the allowed lateness of its type: recorded late by the partner, or received
    late by the hub (a feed that lagged). It is still judged, out of event-time order."""
    sla = profile.late_sla(event.event_type)
    recorded, received = event.recorded_at, event.source.received_at
    lag = max(recorded, received) - event.occurred_at
    if lag <= sla:
        return ()
    hours = lag.total_seconds() / 3600
    how = "recorded" if recorded >= received else "received by the hub"
    return (
        LATE_EVENT.finding(
            state,
            event.source.partner,
            event.occurred_at,
            f"{event.event_type.value} from {event.source.partner} {how} {hours:.1f} h after "
            f"it occurred (allowed lateness {sla.total_seconds() / 3600:.1f} h)",
            [event.event_id],
        ),
    )


@rule(*BUSINESS_EVENTS)
def timezone_missing(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """A connector reads a local time without offset in the zone its partner's registry entry
    declares (where it declares none, the message is refused) and marks the events with
    ``identifiers.other["timezone_missing"] = "<field name>"``; this rule opens the case."""
    field = event.identifiers.other.get("timezone_missing")
    if not field:
        return ()
    return (
        TIMEZONE_MISSING.finding(
            state,
            f"{event.source.partner}:{field}",
            event.occurred_at,
            f"{event.source.partner} sent {field} without a UTC offset "
            f"(message {event.source.message_id}); the time was interpreted, not given",
            [event.event_id],
        ),
    )


@rule(*_PREREQUISITES)
def out_of_sequence(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    problems: list[str] = []
    evidence = [event.event_id]
    for before in _PREREQUISITES.get(event.event_type, ()):
        seen = state.milestones.get(before.value)
        if seen is None:
            problems.append(f"{before.value} not reported")
        elif seen > event.occurred_at:
            problems.append(f"{before.value} only at {seen.isoformat()}")
            source = state.milestone_sources.get(before.value)
            if source is not None:
                evidence.append(source.event_id)
    if not problems:
        return ()
    return (
        OUT_OF_SEQUENCE.finding(
            state,
            event.event_type.value,
            event.occurred_at,
            f"{event.event_type.value} at {event.occurred_at.isoformat()} but "
            + "; ".join(problems),
            evidence,
        ),
    )


@rule(EventType.RECORD_CORRECTED)
def record_corrected(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """The corrected events' business keys are forgotten, so the corrective event that
    re-sends the same business event with new content is not a DUPLICATE_CONFLICT."""
    detail = event.detail
    corrected = list(detail.corrected_event_ids) if isinstance(detail, CorrectionDetail) else []
    if corrected:
        gone = set(corrected)
        state.business_keys = {
            k: v for k, v in state.business_keys.items() if v.partition(" ")[2] not in gone
        }
    reason = detail.reason if isinstance(detail, CorrectionDetail) else None
    subject = ",".join(sorted(corrected)) or event.event_id
    return (
        RECORD_CORRECTED.finding(
            state,
            subject,
            event.occurred_at,
            f"{event.source.partner} corrected {len(corrected) or 'an unnamed'} record(s)"
            + (f": {reason}" if reason else ""),
            [*corrected, event.event_id],
        ),
    )
