"""Identity resolution, the pure part (DESIGN.md section 5a).

Not every partner knows the COI: a logger knows its shipment, a LIMS its batch and sample. Events
that carry a COI *and* secondary ids teach an index (secondary id -> COI); events that carry only
secondary ids are re-keyed to their COI through it. Index keys are ``<kind>:<value>``.
"""

from __future__ import annotations

from hub.events.models import Event, LinkDetail

# Routing preference for an event without COI: the id most likely linked first.
LINK_KINDS: tuple[str, ...] = ("shipment_id", "batch_id", "sample_id", "din", "order_id")


def link_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def links_taught(event: Event) -> list[str]:
    """Index keys an event with a COI links to that COI (its ids + an explicit link)."""
    if not event.coi_id:
        return []
    keys = [
        link_key(kind, value)
        for kind in LINK_KINDS
        if (value := getattr(event.identifiers, kind)) is not None
    ]
    if isinstance(event.detail, LinkDetail) and event.detail.id_kind in LINK_KINDS:
        keys.append(link_key(event.detail.id_kind, event.detail.id_value))
    return list(dict.fromkeys(keys))


def routing_key(event: Event) -> str | None:
    """The index key an event without COI is resolved by (None: it carries no linkable id)."""
    for kind in LINK_KINDS:
        value = getattr(event.identifiers, kind)
        if value is not None:
            return link_key(kind, value)
    return None
