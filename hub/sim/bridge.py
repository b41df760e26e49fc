"""The one stand-in left for a hub capability the connectors lack today.

The simulator sends what partners really send. For one fault the hub as it stands cannot
produce what the engine needs: a timestamp without UTC offset from a partner whose time zone is
documented. Connectors reject such a message (``TIMEZONE_MISSING``, dead-lettered with its
original bytes: the hub does detect it, at the edge), so the engine's TIMEZONE_MISSING rule
(``identifiers.other["timezone_missing"]``) never runs on the chain. The change that removes
this stand-in: a per-partner documented zone (``ConnectorConfig``) with which connectors
interpret such times and mark the events. Until then the stand-in delivers, besides the dead
letter, the events of the message interpreted in the documented zone and marked, directly to
the events topic (live) or the engine (offline); the demo report counts every use.

(Three earlier stand-ins are gone because the hub now does their job: EPCIS maps the receipt of
the drug product to PRODUCT_RECEIVED_AT_SITE, the engine knows the FHIR status ORDER_REVOKED,
and the courier keeps a handover whose DIN check character fails and lets the chain raise
INVALID_IDENTIFIER.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, RawMessage, Result
from hub.errors import NormalisationError
from hub.events.models import (
    Event,
)

REPAIRABLE = frozenset({"TIMEZONE_MISSING"})


@dataclass(frozen=True)
class Repair:
    """The intact message and the marks its events carry."""

    payload: bytes
    marks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """How one message reaches the hub: raw (to its raw topic) and/or as canonical events
    written directly by a stand-in (``bridge`` names it)."""

    raw: bool
    direct: tuple[Event, ...] = ()
    bridge: str | None = None


def _mark(events: Sequence[Event], marks: dict[str, str]) -> tuple[Event, ...]:
    return tuple(
        e.model_copy(
            update={
                "identifiers": e.identifiers.model_copy(
                    update={"other": {**e.identifiers.other, **marks}}
                )
            }
        )
        for e in events
    )


def deliver(
    connector: Connector,
    result: Result,
    received: datetime,
    content_type: str,
    repair: Repair | None,
) -> Delivery:
    """What reaches the hub for one message whose connector ``result`` is known."""
    if result.rejection is not None:
        if repair is None or result.rejection.code not in REPAIRABLE:
            return Delivery(raw=True)
        try:
            payload = connector.prepare_raw(repair.payload)
        except NormalisationError:
            return Delivery(raw=True)
        intact = connector.process(
            RawMessage(connector.name, payload, received, content_type=content_type)
        )
        if not intact.ok:
            return Delivery(raw=True)
        name = f"repair:{result.rejection.code}"
        return Delivery(raw=True, direct=_mark(intact.events, repair.marks), bridge=name)
    return Delivery(raw=True)
