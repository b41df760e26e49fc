"""The connector contract: one partner dialect in, canonical events or one rejection out.

A connector is pure: bytes and their metadata in, :class:`Result` out, no Kafka or Redis. The
runtime calls :meth:`Connector.process` once per raw record (at least once: a replayed record
yields the same event ids, so the duplicate changes nothing downstream). ``process`` never
raises: a message the connector cannot read becomes a :class:`Rejection` that the runtime writes
to the dead-letter topic together with the original bytes.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from hub.errors import NormalisationError
from hub.events.identifiers import DEFAULT_COI_PATTERN
from hub.events.ids import event_id
from hub.events.models import Actor, Detail, Event, EventType, Identifiers, Location, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawMessage:
    """One partner message exactly as it reached the hub.

    ``topic``/``partition``/``offset`` are the raw record's coordinates once it is on Kafka
    (None when a connector is run offline, e.g. by ``v2v normalise``).
    """

    partner: str
    payload: bytes
    received_at: datetime
    content_type: str | None = None
    headers: dict[str, bytes] = field(default_factory=dict)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Rejection:
    """Why a message could not be normalised; becomes the dead-letter record's headers."""

    code: str
    reason: str
    partner: str
    stage: str = "normalise"
    message_id: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Result:
    """Either events (possibly none, e.g. a heartbeat) or exactly one rejection."""

    events: Sequence[Event] = ()
    rejection: Rejection | None = None

    @property
    def ok(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True)
class ConnectorConfig:
    """What connectors need from the settings; the pseudonym key never leaves the clinic side.

    ``partner_options`` holds per-partner connector options (e.g. which B2MML property carries
    the COI), each connector reading and validating its own entry; empty means its defaults.
    """

    pseudonym_key: bytes = b"dev-only-pseudonym-key-change-me"
    coi_pattern: str = DEFAULT_COI_PATTERN
    partner_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Envelope:
    """What the events from one partner message share, and the one place their ids are made.

    The id of an event is ``event_id(partner, key, index)`` (:mod:`hub.events.ids`): ``key`` is
    the source message id unless the event is about a business object with a key of its own
    (an EPCIS sensor report, a B2MML material lot), ``index`` its position among that key's
    events. The same message therefore always yields the same ids, which is what makes a
    replayed or re-sent message a harmless duplicate downstream. Ids already on topics must
    never change: ``tests/unit/test_event_ids_pinned.py`` holds some of them.

    Fields the events share (COI, identifiers, actor, ...) are set with
    :func:`dataclasses.replace`; an event that differs in one of them gets its own copy.
    """

    source: Source
    coi_id: str | None = None
    patient_ref: str | None = None
    identifiers: Identifiers = field(default_factory=Identifiers)
    actor: Actor | None = None
    location: Location | None = None
    biz_step: str | None = None
    disposition: str | None = None

    @classmethod
    def of(cls, partner: str, system: str, message_id: str, received_at: datetime) -> Envelope:
        """An envelope for the message ``message_id`` of ``partner``, received at ``received_at``
        (also every event's ``recorded_at``)."""
        source = Source(
            partner=partner, system=system, message_id=message_id, received_at=received_at
        )
        return cls(source)

    def event(
        self,
        index: int,
        event_type: EventType,
        occurred_at: datetime,
        detail: Detail | None = None,
        *,
        key: str | None = None,
    ) -> Event:
        """The ``index``-th event about ``key`` (default: the source message id)."""
        source = self.source
        return Event(
            event_id=event_id(source.partner, source.message_id if key is None else key, index),
            event_type=event_type,
            occurred_at=occurred_at,
            recorded_at=source.received_at,
            source=source,
            coi_id=self.coi_id,
            patient_ref=self.patient_ref,
            identifiers=self.identifiers,
            actor=self.actor,
            location=self.location,
            biz_step=self.biz_step,
            disposition=self.disposition,
            detail=detail,
        )


def payload_id(payload: bytes) -> str:
    """The message id of a message that names none: its content hash, so a re-sent copy keeps
    its event ids."""
    return "sha256:" + hashlib.sha256(payload).hexdigest()


class Connector(ABC):
    """Base of every partner connector.

    Subclasses set ``name`` (the dialect, also the raw topic suffix ``raw.<name>``), ``system``
    (the partner system kind, recorded in every event's source) and ``content_types``, and
    implement :meth:`normalise`, raising :class:`~hub.errors.NormalisationError` (or a subclass)
    for anything they cannot read.
    """

    name: ClassVar[str]
    system: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    carries_identity: ClassVar[bool] = False
    """True for a feed that carries patient identity (the clinic's): :meth:`prepare_raw`
    pseudonymises it at the edge, and a connector fault is logged and reported by exception type
    only (an exception's message or traceback may quote the payload)."""

    def __init__(self, config: ConnectorConfig | None = None) -> None:
        self.config = config or ConnectorConfig()

    def prepare_raw(self, payload: bytes) -> bytes:
        """Called at the edge (HTTP ingress, file drop) before the first write to Kafka.

        The default returns the payload unchanged. A connector whose feed carries patient
        identity (the clinic's) returns the payload with identities pseudonymised and direct
        identifiers (names, MRNs, birth dates, addresses) removed, so that no raw or dead-letter
        topic ever holds them (DESIGN.md invariant 5). If that cannot be done safely (the payload
        does not parse) it raises ``NormalisationError``: the edge then refuses the message with
        the reason (HTTP 4xx / ``failed/``) instead of writing identities to Kafka.
        """
        return payload

    def envelope(self, message: RawMessage, message_id: str) -> Envelope:
        """The envelope of the events this connector reads from ``message`` under
        ``message_id`` (the partner's id for the message, or for the record it reports)."""
        return Envelope.of(self.name, self.system, message_id, message.received_at)

    @abstractmethod
    def normalise(self, message: RawMessage) -> list[Event]:
        """Turn one raw message into canonical events, or raise ``NormalisationError``."""

    def process(self, message: RawMessage) -> Result:
        """Total wrapper around :meth:`normalise`: never raises, every failure is a rejection."""
        try:
            return Result(events=tuple(self.normalise(message)))
        except NormalisationError as exc:
            return Result(
                rejection=Rejection(
                    code=exc.code,
                    reason=exc.reason,
                    partner=self.name,
                    message_id=exc.message_id,
                    field=exc.field,
                )
            )
        except Exception as exc:
            # A connector bug must not lose the message: it is dead-lettered like bad input,
            # under a code that tells integration ops the fault is ours, not the partner's.
            if self.carries_identity:
                # The message and traceback may quote patient data: the exception type only.
                log.error(
                    "connector %s failed unexpectedly (%s); details withheld",
                    self.name,
                    type(exc).__name__,
                )
                reason = f"unexpected {type(exc).__name__} (details withheld: patient data)"
            else:
                log.exception("connector %s failed unexpectedly", self.name)
                reason = f"unexpected {type(exc).__name__}: {exc}"
            return Result(
                rejection=Rejection(code="CONNECTOR_ERROR", reason=reason, partner=self.name)
            )


def unique_events(events: list[Event], partner: str) -> list[Event]:
    """Drop exact repeats (one fact reported twice in one message); two different events
    with one id (two segments or lots with the same ID) are DUPLICATE_ID."""
    seen: dict[str, Event] = {}
    for event in events:
        first = seen.setdefault(event.event_id, event)
        if first != event:
            raise NormalisationError(
                f"message {event.source.message_id} reports two different {event.event_type.value} "
                "events for the same business key (repeated ID)",
                partner=partner,
                message_id=event.source.message_id,
                code="DUPLICATE_ID",
            )
    return list(seen.values())
