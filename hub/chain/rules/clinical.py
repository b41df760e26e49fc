"""Clinic-side rules: LD_BEFORE_AVAILABILITY, THAW_WINDOW_EXCEEDED, V2V_OVER_TARGET,
EXPIRY_APPROACHING, PATIENT_STATUS_CHANGE.

Time windows are deadlines fired by clock ticks (the infusion may never come) and are checked
again when the infusion is reported, so a late infusion report still shows the breach.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline
from hub.chain.vocab import PATIENT_STOP, norm
from hub.events.models import Event, EventType, PatientStatusDetail

LD_BEFORE_AVAILABILITY = entry(
    "LD_BEFORE_AVAILABILITY",
    "Lymphodepletion started before product availability",
    Severity.CRITICAL,
    "treating physician",
    evidence=("lymphodepletion start", "release decision / receipt at site (absent or later)"),
    playbook=(
        "Confirm the product's status and earliest availability with the manufacturer",
        "Treating physician decides on bridging therapy or pausing conditioning",
        "Review the site's pre-LD availability check",
    ),
    timing=Timing.AFTER_LATENESS,
)
THAW_WINDOW_EXCEEDED = entry(
    "THAW_WINDOW_EXCEEDED",
    "Infusion too late after thaw",
    Severity.CRITICAL,
    "site pharmacy",
    evidence=("thaw time", "infusion time (or its absence)", "profile thaw window"),
    playbook=(
        "Do not infuse an out-of-window product without QP / medical approval",
        "Contact the manufacturer's medical team",
        "Document the timeline and the decision",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.INFUSION_COMPLETED,),
    ends_with_chain=True,
)
V2V_OVER_TARGET = entry(
    "V2V_OVER_TARGET",
    "Vein-to-vein time over target",
    Severity.MEDIUM,
    "programme management",
    evidence=("timeline from collection", "profile target"),
    playbook=(
        "Identify the steps that took longer than planned",
        "Agree the remaining timeline with the site and the manufacturer",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.INFUSION_COMPLETED,),
    ends_with_chain=True,
)
EXPIRY_APPROACHING = entry(
    "EXPIRY_APPROACHING",
    "Product near expiry before infusion",
    Severity.HIGH,
    "site",
    evidence=("label data (expiry)", "planned infusion"),
    playbook=(
        "Plan the infusion before expiry or ask the manufacturer about extension options",
        "Confirm storage conditions at the site",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.INFUSION_COMPLETED,),
    ends_with_chain=True,
)
PATIENT_STATUS_CHANGE = entry(
    "PATIENT_STATUS_CHANGE",
    "Patient withdrawn / ineligible mid-process",
    Severity.HIGH,
    "physician + sponsor",
    evidence=("clinic status event", "chain stage at the time"),
    playbook=(
        "Inform the manufacturer and logistics; hold further steps",
        "Decide with the sponsor what happens to material in process",
    ),
    timing=Timing.AT_ONCE,
)

_THAW = "thaw"
_V2V = "vein-to-vein"
_PRODUCT = "product"
_INFUSED = EventType.INFUSION_COMPLETED.value


@rule(EventType.COLLECTION_COMPLETED)
def v2v_clock(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    start = state.plan.collection_end
    if start is None or state.plan.infused_at is not None:
        return ()
    due = start + profile.v2v_target
    state.set_deadline(
        V2V_OVER_TARGET.code,
        _V2V,
        due,
        [event.event_id],
        f"collected {start.isoformat()}; not infused by {due.isoformat()} "
        f"(target {profile.v2v_target_days:g} days)",
    )
    return ()


@deadline(V2V_OVER_TARGET.code)
def v2v_over(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if _INFUSED in state.milestones:
        return ()
    return (V2V_OVER_TARGET.due_finding(state, due),)


@rule(
    EventType.CRYOPRESERVED,
    EventType.MANUFACTURING_COMPLETED,
    EventType.PRODUCT_RECEIVED_AT_SITE,
)
def expiry_clock(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    expires = state.plan.expires_at
    if expires is None or _INFUSED in state.milestones:
        return ()
    due = expires - profile.expiry_margin
    subject = f"{_PRODUCT}@{expires.isoformat()}"
    if f"{EXPIRY_APPROACHING.code}|{subject}" in state.raised:
        return ()
    state.clear_deadline(EXPIRY_APPROACHING.code)
    state.set_deadline(
        EXPIRY_APPROACHING.code,
        subject,
        due,
        [event.event_id],
        f"product expires {expires.isoformat()}; not infused {profile.expiry_margin_h:g} h before",
    )
    return ()


@deadline(EXPIRY_APPROACHING.code)
def expiry_near(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if _INFUSED in state.milestones:
        return ()
    return (EXPIRY_APPROACHING.due_finding(state, due),)


@rule(EventType.LYMPHODEPLETION_STARTED)
def ld_availability(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    at = event.occurred_at
    missing: list[str] = []
    certified = state.readiness.certified_at
    if certified is None or certified > at:
        missing.append("product not certified")
    if profile.lymphodepletion.requires == "received_at_site":
        received = state.milestones.get(EventType.PRODUCT_RECEIVED_AT_SITE.value)
        if received is None or received > at:
            missing.append("product not received at site")
    if not missing:
        return ()
    return (
        LD_BEFORE_AVAILABILITY.finding(
            state,
            "lymphodepletion",
            at,
            f"lymphodepletion started {at.isoformat()}: " + "; ".join(missing),
            [event.event_id],
        ),
    )


@rule(EventType.PRODUCT_THAWED)
def thaw_clock(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    thawed = state.plan.thawed_at
    if thawed is None or _INFUSED in state.milestones:
        return ()
    due = thawed + profile.thaw_window
    state.set_deadline(
        THAW_WINDOW_EXCEEDED.code,
        _THAW,
        due,
        [event.event_id],
        f"thawed {thawed.isoformat()}; not infused by {due.isoformat()} "
        f"(window {profile.thaw_window_min:g} min)",
    )
    return ()


@deadline(THAW_WINDOW_EXCEEDED.code)
def thaw_expired(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if _INFUSED in state.milestones:
        return ()
    return (THAW_WINDOW_EXCEEDED.due_finding(state, due),)


@rule(EventType.INFUSION_COMPLETED)
def infusion(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    for code in (THAW_WINDOW_EXCEEDED, V2V_OVER_TARGET, EXPIRY_APPROACHING):
        state.clear_deadline(code.code)
    at = event.occurred_at
    plan = state.plan
    findings: list[Finding] = []
    sources = state.milestone_sources
    if plan.thawed_at is not None and at - plan.thawed_at > profile.thaw_window:
        thaw = sources.get(EventType.PRODUCT_THAWED.value)
        minutes = (at - plan.thawed_at).total_seconds() / 60
        findings.append(
            THAW_WINDOW_EXCEEDED.finding(
                state,
                _THAW,
                at,
                f"infused {minutes:.0f} min after thaw (window {profile.thaw_window_min:g} min)",
                [*([thaw.event_id] if thaw else []), event.event_id],
            )
        )
    if plan.collection_end is not None and at - plan.collection_end > profile.v2v_target:
        days = (at - plan.collection_end).total_seconds() / 86400
        findings.append(
            V2V_OVER_TARGET.finding(
                state,
                _V2V,
                at,
                f"vein-to-vein {days:.1f} days (target {profile.v2v_target_days:g} days)",
                [event.event_id],
            )
        )
    return findings


@rule(EventType.PATIENT_STATUS_CHANGED)
def patient_status(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, PatientStatusDetail) or norm(detail.status) not in PATIENT_STOP:
        return ()
    status = norm(detail.status)
    return (
        PATIENT_STATUS_CHANGE.finding(
            state,
            status.lower(),
            event.occurred_at,
            f"patient {status.lower()} at stage {state.stage}"
            + (f": {detail.reason}" if detail.reason else ""),
            [event.event_id],
        ),
    )
