"""Is a canonical event sane enough to reach a chain? Bounds checked before any rule sees it.

A connector's output and a direct producer's record on the events topic pass the same screen:
an event that fails it is dead-lettered with a specific code and reason, never applied. What a
chain key or an identifier may be is bounded (a 200 KB "COI" would become a table key, a Redis
key and a label on every case); a date must lie within a plausible window of the record's
receipt (an event dated 9999-12-31 would hold a chain's event-time frontier hostage); a therapy
order must name a product profile the hub has (silently judging it by the default profile would
apply another product's windows); a CLOCK_TICK is the hub's own and never comes from a partner
or the events topic.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import timedelta

from connectors.base import Rejection
from hub.events.models import Event, EventType, ScheduleDetail

MAX_COI = 64
MAX_IDENTIFIER = 128
MAX_OTHER_IDS = 32
MAX_OTHER_KEY = 64
MAX_OTHER_VALUE = 256
FUTURE_SKEW = timedelta(days=1)
"""How far after its receipt an event may be dated (partners' clocks drift; a scheduled time)."""
PAST_HORIZON = timedelta(days=15 * 366)
"""How far before its receipt an event may be dated: the 15 years of long-term follow-up."""

_KEY = re.compile(r"[!-~]+")  # visible ASCII: ISO 7064 check characters include '*'; no spaces
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")

_ID_FIELDS = ("din", "batch_id", "shipment_id", "order_id", "logger_id", "sample_id")


def screen(event: Event, profiles: Container[str], stage: str) -> Rejection | None:
    """Why ``event`` may not reach a chain, or None when it may."""
    problem = _problem(event, profiles)
    if problem is None:
        return None
    code, reason, field = problem
    return Rejection(
        code=code,
        reason=f"{event.event_type.value}: {reason}",
        partner=event.source.partner,
        stage=stage,
        message_id=event.source.message_id,
        field=field,
    )


def _problem(event: Event, profiles: Container[str]) -> tuple[str, str, str] | None:
    if event.event_type is EventType.CLOCK_TICK:
        return ("TICK_NOT_FROM_HUB", "clock ticks come from the hub's ticker only", "event_type")
    if event.coi_id is not None:
        bad = _bad_key(event.coi_id, MAX_COI)
        if bad:
            return ("IMPLAUSIBLE_IDENTIFIER", f"COI {bad}", "coi_id")
    return _identifiers(event) or _times(event) or _profile(event, profiles)


def _bad_key(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"is {len(value)} characters long (at most {limit})"
    if not _KEY.fullmatch(value):
        return "holds a space, a control or a non-ASCII character"
    return None


def _identifiers(event: Event) -> tuple[str, str, str] | None:
    ids = event.identifiers
    for name in (*_ID_FIELDS, "product_code"):
        value = getattr(ids, name)
        if value is not None and (len(value) > MAX_IDENTIFIER or not _PRINTABLE.fullmatch(value)):
            return (
                "IMPLAUSIBLE_IDENTIFIER",
                f"{name} is {len(value)} characters long or holds control characters "
                f"(at most {MAX_IDENTIFIER} printable)",
                f"identifiers.{name}",
            )
    if len(ids.other) > MAX_OTHER_IDS:
        return (
            "IMPLAUSIBLE_IDENTIFIER",
            f"{len(ids.other)} other identifiers (at most {MAX_OTHER_IDS})",
            "identifiers.other",
        )
    for key, value in ids.other.items():
        if len(key) > MAX_OTHER_KEY or len(value) > MAX_OTHER_VALUE:
            return (
                "IMPLAUSIBLE_IDENTIFIER",
                f"other identifier {key[:MAX_OTHER_KEY]!r} exceeds {MAX_OTHER_KEY} characters "
                f"of name or {MAX_OTHER_VALUE} of value",
                "identifiers.other",
            )
    return None


def _times(event: Event) -> tuple[str, str, str] | None:
    received = event.source.received_at
    for name in ("occurred_at", "recorded_at"):
        at = getattr(event, name)
        if at > received + FUTURE_SKEW:
            return (
                "IMPLAUSIBLE_TIME",
                f"{name} {at.isoformat()} is more than {FUTURE_SKEW} after its receipt "
                f"({received.isoformat()})",
                name,
            )
        if at < received - PAST_HORIZON:
            return (
                "IMPLAUSIBLE_TIME",
                f"{name} {at.isoformat()} is more than 15 years before its receipt "
                f"({received.isoformat()})",
                name,
            )
    return None


def _profile(event: Event, profiles: Container[str]) -> tuple[str, str, str] | None:
    detail = event.detail
    named = detail.product_profile if isinstance(detail, ScheduleDetail) else None
    if named and named not in profiles:
        return (
            "UNKNOWN_PRODUCT_PROFILE",
            f"names product profile {named[:MAX_COI]!r}, which this hub does not have (add it "
            "to the profile folder, then replay the dead letter)",
            "detail.product_profile",
        )
    return None
