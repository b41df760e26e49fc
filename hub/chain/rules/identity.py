"""Chain of Identity rules: patient <-> starting material <-> product stay matched.

COI_MISMATCH_RECEIPT, COI_MISMATCH_INFUSION, DIN_UNLINKED, INVALID_IDENTIFIER.

A DIN is *linked* to the chain by the collection that labelled it (COLLECTION_COMPLETED) or by
an IDENTIFIER_LINKED event; the order id comes from THERAPY_ORDERED, the batch id from
MANUFACTURING_STARTED. Identity checks at a checkpoint whose name contains ``bedside``,
``infusion`` or ``administration`` are bedside checks; every other checkpoint (manufacturing
receipt, site receipt, ...) is a receipt-type check.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.chain.catalogue import BUSINESS_EVENTS, Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline
from hub.chain.vocab import is_bedside, norm
from hub.errors import InvalidIdentifierError
from hub.events.identifiers import parse_din, validate_coi
from hub.events.models import Event, EventType, IdentityCheckDetail, LinkDetail

COI_MISMATCH_RECEIPT = entry(
    "COI_MISMATCH_RECEIPT",
    "Identity mismatch at receipt",
    Severity.CRITICAL,
    "manufacturer QA",
    evidence=("both scans (expected and scanned identifiers)", "the order's identifiers"),
    playbook=(
        "Quarantine the material; do not start manufacturing or storage",
        "Re-scan both labels and compare with the order and collection record",
        "Contact the collection site and sponsor; open a deviation",
    ),
    timing=Timing.AT_ONCE,
)
COI_MISMATCH_INFUSION = entry(
    "COI_MISMATCH_INFUSION",
    "Identity mismatch at the bedside",
    Severity.CRITICAL,
    "treatment site + QP",
    evidence=("bedside verification event", "expected and scanned identifiers"),
    playbook=(
        "Stop: do not infuse",
        "Re-verify patient and product identity with two qualified people",
        "Inform the QP and the manufacturer; open an investigation",
    ),
    timing=Timing.AT_ONCE,
)
DIN_UNLINKED = entry(
    "DIN_UNLINKED",
    "Collection DIN not linked to the chain",
    Severity.HIGH,
    "collection site",
    evidence=("label data (DIN)", "events that carried it"),
    playbook=(
        "Ask the collection site for the collection record of this DIN",
        "Link the DIN to its COI (or correct the label data) in the source system",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.COLLECTION_COMPLETED, EventType.IDENTIFIER_LINKED),
)
INVALID_IDENTIFIER = entry(
    "INVALID_IDENTIFIER",
    "Identifier with bad format or check character",
    Severity.HIGH,
    "sending partner",
    evidence=("raw message", "identifier and the check that failed"),
    playbook=(
        "Ask the sending partner to re-scan or re-key the identifier",
        "Verify the physical label against the ISBT 128 / COI format",
    ),
    timing=Timing.AT_ONCE,
)

_RECEIPT_EVENTS = frozenset({EventType.MATERIAL_RECEIVED, EventType.PRODUCT_RECEIVED_AT_SITE})
_BEDSIDE_EVENTS = frozenset({EventType.PRODUCT_THAWED, EventType.INFUSION_COMPLETED})
_CHECKED_EVENTS = _RECEIPT_EVENTS | _BEDSIDE_EVENTS
_LINK_KINDS = {"din": "din", "batch": "batch_id", "order": "order_id", "shipment": "shipment_id"}


def _kind(id_kind: str) -> str:
    kind = id_kind.strip().lower()
    return _LINK_KINDS.get(kind, kind)


def _coi(value: str) -> str:
    return norm(value).removeprefix("&/")


@rule(EventType.COLLECTION_COMPLETED, EventType.IDENTIFIER_LINKED)
def link_identifiers(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    links: list[tuple[str, str]] = []
    if event.event_type is EventType.COLLECTION_COMPLETED and event.identifiers.din:
        links.append(("din", event.identifiers.din))
    detail = event.detail
    if isinstance(detail, LinkDetail) and detail.id_value:
        links.append((_kind(detail.id_kind), detail.id_value))
    for kind, value in links:
        state.link(kind, value)
        if kind == "din":
            state.clear_deadline(DIN_UNLINKED.code, value)
    return ()


@rule(*BUSINESS_EVENTS)
def invalid_identifier(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    """DIN format + Mod 37-2 (when the label's check character travels in
    ``identifiers.other["din_check"]``); the COI too when the profile asks for it."""
    problems: list[tuple[str, str]] = []
    ids = event.identifiers
    dins = [ids.din] if ids.din else []
    detail = event.detail
    if isinstance(detail, LinkDetail) and _kind(detail.id_kind) == "din":
        dins.append(detail.id_value)
    for din in dins:
        try:
            parse_din(din, ids.other.get("din_check") if din == ids.din else None)
        except InvalidIdentifierError as exc:
            problems.append((f"din:{din}", exc.reason))
    coi = event.coi_id
    if profile.validate_coi and coi and not state.is_linked("coi", coi):
        try:
            validate_coi(coi, profile.coi_pattern)
            state.link("coi", coi)  # checked once per chain, not on every event
        except InvalidIdentifierError as exc:
            problems.append((f"coi:{coi}", exc.reason))
    return [
        INVALID_IDENTIFIER.finding(
            state,
            subject,
            event.occurred_at,
            f"{event.source.partner} sent an invalid identifier: {reason}",
            [event.event_id],
        )
        for subject, reason in problems
    ]


@rule(*BUSINESS_EVENTS)
def din_seen(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """A DIN the chain has not linked gets until ``din_link_grace_h`` to be linked. A receipt
    or bedside event contradicting an already linked DIN is a mismatch instead (below)."""
    din = event.identifiers.din
    if not din or state.is_linked("din", din) or state.has_deadline(DIN_UNLINKED.code, din):
        return ()
    if f"{DIN_UNLINKED.code}|{din}" in state.raised:
        return ()
    if event.event_type in _CHECKED_EVENTS and state.linked.get("din"):
        return ()
    due = event.occurred_at + profile.din_link_grace
    state.set_deadline(
        DIN_UNLINKED.code,
        din,
        due,
        [event.event_id],
        f"DIN {din} first seen on {event.event_type.value} from {event.source.partner}; "
        f"not linked to the chain by {due.isoformat()}",
    )
    return ()


@deadline(DIN_UNLINKED.code)
def din_unlinked(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    if state.is_linked("din", due.subject):
        return ()
    return (
        DIN_UNLINKED.finding(state, due.subject, due.due_at, due.summary, due.evidence_event_ids),
    )


@rule(*_CHECKED_EVENTS)
def identifiers_contradict(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    ids = event.identifiers
    problems: list[str] = []
    if ids.order_id and state.plan.order_id and ids.order_id != state.plan.order_id:
        problems.append(f"order {ids.order_id} but the chain's order is {state.plan.order_id}")
    linked_dins = state.linked.get("din", [])
    if ids.din and linked_dins and ids.din not in linked_dins:
        problems.append(f"DIN {ids.din} but the chain's DIN is {', '.join(linked_dins)}")
    if (
        event.event_type is not EventType.MATERIAL_RECEIVED
        and ids.batch_id
        and state.plan.batch_id
        and ids.batch_id != state.plan.batch_id
    ):
        problems.append(f"batch {ids.batch_id} but the chain's batch is {state.plan.batch_id}")
    if not problems:
        return ()
    bedside = event.event_type in _BEDSIDE_EVENTS
    code = COI_MISMATCH_INFUSION if bedside else COI_MISMATCH_RECEIPT
    return (
        code.finding(
            state,
            "bedside" if bedside else event.event_type.value.lower(),
            event.occurred_at,
            f"{event.event_type.value} on chain {state.coi_id}: " + "; ".join(problems),
            [event.event_id],
        ),
    )


@rule(EventType.IDENTITY_VERIFIED)
def identity_check(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    """A scan mismatches when the scanner says so, when an expected value differs from the
    scanned one, or when a scanned COI / DIN is not this chain's."""
    detail = event.detail
    if not isinstance(detail, IdentityCheckDetail):
        return ()
    problems: list[str] = [] if detail.matched else ["scanner reported no match"]
    for key, expected in sorted(detail.expected.items()):
        scanned = detail.scanned.get(key)
        if scanned is not None and norm(scanned) != norm(expected):
            problems.append(f"{key}: expected {expected}, scanned {scanned}")
    for key, scanned in sorted(detail.scanned.items()):
        kind = key.strip().lower()
        if kind in {"coi", "coi_id"} and _coi(scanned) != _coi(state.coi_id):
            problems.append(f"scanned COI {scanned} is not chain {state.coi_id}")
        linked = state.linked.get("din", [])
        if kind == "din" and linked and scanned not in linked:
            problems.append(f"scanned DIN {scanned} is not the chain's {', '.join(linked)}")
    problems = list(dict.fromkeys(problems))
    state.readiness.identity_checks[detail.checkpoint] = not problems
    if not problems:
        return ()
    code = COI_MISMATCH_INFUSION if is_bedside(detail.checkpoint) else COI_MISMATCH_RECEIPT
    return (
        code.finding(
            state,
            detail.checkpoint,
            event.occurred_at,
            f"Identity check at {detail.checkpoint}"
            + (f" by {detail.verified_by}" if detail.verified_by else "")
            + ": "
            + "; ".join(problems),
            [event.event_id],
        ),
    )
