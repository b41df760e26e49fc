"""``resolve``: identity -> events. Links teach the index and release parked events; events
without COI are re-keyed through it or parked until their link arrives."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from hub.events.models import Event
from hub.flow import Teach
from hub.headers import KIND_HEADER, KIND_LINK, OCCURRED_AT_HEADER
from hub.runtime.context import Worker, headers_of, received_at
from hub.serde import WireFormat


def _occurred_at(headers: list[tuple[str, bytes]]) -> datetime | None:
    raw = dict(headers).get(OCCURRED_AT_HEADER)
    try:
        stamp = datetime.fromisoformat(raw.decode("ascii")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None
    return stamp.astimezone(UTC) if stamp is not None and stamp.tzinfo else None


class TableIndex:
    """:class:`hub.flow.core.IdentityIndex` over the worker's two tables (parked events are
    kept as their encoded bytes)."""

    def __init__(self, links: Any, parked: Any, wire: WireFormat[Event]) -> None:
        self.links, self.parked, self.wire = links, parked, wire

    def linked(self, key: str) -> str | None:
        value = self.links.get(key)
        return None if value is None else str(value)

    def link(self, key: str, coi_id: str) -> None:
        self.links[key] = coi_id

    def parked_count(self, key: str) -> int:
        return len(self.parked.get(key) or [])

    def park(self, key: str, event: Event) -> None:
        data = base64.b64encode(self.wire.encode(event)).decode("ascii")
        self.parked[key] = [*(self.parked.get(key) or []), data]

    def unpark(self, key: str) -> list[Event]:
        return [self.wire.decode(base64.b64decode(d)) for d in self.parked.pop(key, None) or []]


def register(hub: Worker, identity_topic: Any, index: TableIndex) -> None:
    async def forward(event: Event) -> None:
        assert event.coi_id
        await hub.out.events.send(
            key=event.coi_id.encode(), value=await hub.encode(hub.wires.events, event)
        )

    @hub.app.agent(identity_topic, name="resolve")
    async def resolve(stream: Any) -> None:
        async for record in stream.events():
            message = record.message
            key = (message.key or b"").decode("utf-8", "replace")
            headers = headers_of(message)
            if dict(headers).get(KIND_HEADER) == KIND_LINK:
                stamp = received_at(message, headers)
                link = Teach(
                    key=key,
                    coi_id=(message.value or b"").decode("utf-8", "replace"),
                    occurred_at=_occurred_at(headers) or stamp,
                    received_at=stamp,
                )
                released, conflict = hub.core.teach(index, link)
                for event in released:
                    await forward(event)
                    hub.metrics.identity_resolved.inc()
                if conflict is not None:
                    hub.metrics.link_conflicts.inc()
                    await forward(conflict)
                continue
            waiting = await hub.decode(message, hub.wires.events, "event")
            if waiting is None:
                continue
            outcome = hub.core.resolve(index, key, waiting)
            if isinstance(outcome, Event):
                await forward(outcome)
                hub.metrics.identity_resolved.inc()
            elif outcome is None:
                hub.metrics.identity_parked.inc()
            else:
                await hub.dead_letter(message, outcome)
