"""What every agent of the worker shares: the flow core, the topics, the wire formats, the
metrics and the read model, plus the two I/O steps written once: decode-or-dead-letter and
dead-letter."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import faust
from pydantic import BaseModel
from redis.exceptions import RedisError

from connectors.base import Rejection
from hub.cases.commands import CaseCommand
from hub.cases.models import Case, Escalation
from hub.deadletter import deadletter_headers
from hub.errors import RegistryUnavailableError, SerializationError
from hub.events.models import Event
from hub.flow import FlowCore
from hub.headers import receipt_time
from hub.logthrottle import THROTTLE
from hub.metrics import Metrics
from hub.runtime.feeds import FeedWatch
from hub.runtime.projection import Projection
from hub.serde import WireFormat, decode_with_retry, encode_with_retry, wire_for
from hub.settings import Settings
from hub.ticks import tick_key
from hub.topics import Topics

log = logging.getLogger("v2v.runtime")
T = TypeVar("T", bound=BaseModel)


def headers_of(message: Any) -> list[tuple[str, bytes]]:
    raw = message.headers or []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v or b"") for k, v in items]


def received_at(message: Any, headers: list[tuple[str, bytes]]) -> datetime:
    """When the hub received the record (:func:`hub.headers.receipt_time`)."""
    return receipt_time(headers, int(message.timestamp * 1000))


def _registry_down(exc: RegistryUnavailableError, attempt: int, delay_s: float) -> None:
    if attempt == 1 or attempt % 10 == 0:
        log.warning("schema registry unavailable (attempt %d), retrying in %.1fs: %s",
                    attempt, delay_s, exc)  # fmt: skip


@dataclass(frozen=True)
class Wires:
    events: WireFormat[Event]
    cases: WireFormat[Case]
    escalations: WireFormat[Escalation]
    commands: WireFormat[CaseCommand]

    @classmethod
    def of(cls, settings: Settings, topics: Topics) -> Wires:
        fmt, registry = settings.wire_format, settings.schema_registry_url
        return cls(
            events=wire_for(Event, fmt, topics.events, registry),
            cases=wire_for(Case, fmt, topics.cases, registry),
            escalations=wire_for(Escalation, fmt, topics.escalations, registry),
            commands=wire_for(CaseCommand, fmt, topics.commands, registry),
        )


@dataclass
class Outputs:
    """The Faust topics the agents write to."""

    events: Any
    identity: Any
    feeds: Any
    cases: Any
    escalations: Any
    commands: Any
    audit: Any
    audit_checkpoints: Any
    dlq: Any


@dataclass
class Worker:
    """The shared context of one worker's agents."""

    app: faust.App
    settings: Settings
    core: FlowCore
    metrics: Metrics
    topics: Topics
    wires: Wires
    out: Outputs
    projection: Projection
    feeds: FeedWatch
    stale: set[str] = field(default_factory=set)  # chains whose read model missed a write

    @cached_property
    def tick_key(self) -> bytes:
        """The key ticks are signed with (:mod:`hub.ticks`)."""
        return tick_key(self.settings.pseudonym_secret())

    async def dead_letter(self, message: Any, rejection: Rejection) -> None:
        """The original record, untouched, to the dead-letter topic with the reason."""
        headers = deadletter_headers(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original=headers_of(message),
        )
        self.metrics.dead_letters.labels(rejection.stage, rejection.code).inc()
        await self.out.dlq.send(key=message.key, value=message.value, headers=headers)

    async def project(self, write: Awaitable[None], cois: Iterable[str] = ()) -> None:
        """A read-model write for the chains ``cois``: Redis is a projection, so a failure
        leaves it stale (logged, counted, and the chains remembered in :attr:`stale` for
        :mod:`hub.runtime.rebuild` to project again), never loses an event."""
        try:
            await write
        except RedisError as exc:
            self.metrics.projection_errors.inc()
            self.stale.update(cois)
            log.warning(
                "Redis read model not updated (rebuilt at the next check): %s", exc, extra=THROTTLE
            )

    async def encode(self, wire: WireFormat[T], obj: T) -> bytes:
        """``obj`` encoded, waiting out a schema-registry outage."""
        return await encode_with_retry(wire, obj, on_wait=_registry_down)

    async def decode(self, message: Any, wire: WireFormat[T], what: str) -> T | None:
        """The record's value decoded, or None after dead-lettering it as undecodable. While
        the schema registry cannot be reached the record waits (it is valid until shown not to
        be): never dead-lettered for an outage."""
        try:
            return await decode_with_retry(wire, message.value or b"", on_wait=_registry_down)
        except SerializationError as exc:
            code = f"UNDECODABLE_{what.upper()}"
            await self.dead_letter(
                message, Rejection(code=code, reason=str(exc), partner="hub", stage="decode")
            )
            return None
