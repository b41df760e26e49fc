"""``normalise``: raw.<partner> -> events (keyed by COI) | identity (links, unresolved) | dlq,
and for each raw message a heard note to the feeds topic (:mod:`hub.runtime.feeds`)."""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import RawMessage
from hub.flow import Teach, ToChain, ToResolver
from hub.headers import (
    KIND_EVENT,
    KIND_HEADER,
    KIND_LINK,
    OCCURRED_AT_HEADER,
    RECEIVED_AT_HEADER,
)
from hub.partners.health import feed_key
from hub.runtime.context import Worker, headers_of, received_at
from hub.runtime.feeds import KIND_HEARD
from hub.ticks import signature

log = logging.getLogger("v2v.runtime")
TAUGHT_MEMORY = 100_000


def register(hub: Worker, raw_topic: Any) -> None:
    # Links this worker already sent: the index needs each (id, COI) pair once, not per event.
    taught: dict[str, str] = {}

    async def teach(link: Teach) -> None:
        if taught.get(link.key) == link.coi_id:
            return
        taught[link.key] = link.coi_id
        if len(taught) > TAUGHT_MEMORY:
            taught.pop(next(iter(taught)))
        headers = [
            (KIND_HEADER, KIND_LINK),
            (OCCURRED_AT_HEADER, link.occurred_at.isoformat().encode()),
            (RECEIVED_AT_HEADER, link.received_at.isoformat().encode()),
        ]
        await hub.out.identity.send(
            key=link.key.encode(), value=link.coi_id.encode(), headers=headers
        )

    @hub.app.agent(raw_topic, name="normalise")
    async def normalise(stream: Any) -> None:
        async for record in stream.events():
            message = record.message
            partner = hub.topics.partner_of(message.topic)
            headers = headers_of(message)
            content_type = dict(headers).get("content-type")
            raw = RawMessage(
                partner=partner,
                payload=message.value or b"",
                received_at=received_at(message, headers),
                content_type=content_type.decode("utf-8", "replace") if content_type else None,
                headers=dict(headers),
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
            hub.metrics.raw_messages.labels(partner).inc()
            ingested = hub.core.ingest(raw)
            note = hub.feeds.note(partner, raw.received_at, bool(ingested.dead), message.topic,
                                  message.partition, message.offset)  # fmt: skip
            if note is not None:
                home, value = note
                headers = [(KIND_HEADER, KIND_HEARD), signature(hub.tick_key, value)]
                await hub.out.feeds.send(
                    key=feed_key(partner).encode(), value=value, partition=home, headers=headers
                )
            for rejection in ingested.dead:
                if ingested.rejected:
                    hub.metrics.raw_rejected.labels(partner, rejection.code).inc()
                log.warning(
                    "dead-lettered %s@%s:%s: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    rejection.code,
                )
                await hub.dead_letter(message, rejection)
            if ingested.rejected:
                continue
            for routed in ingested.routed:
                if isinstance(routed, ToChain):
                    value = await hub.encode(hub.wires.events, routed.event)
                    await hub.out.events.send(key=routed.coi_id.encode(), value=value)
                elif isinstance(routed, ToResolver):
                    value = await hub.encode(hub.wires.events, routed.event)
                    await hub.out.identity.send(
                        key=routed.key.encode(), value=value, headers=[(KIND_HEADER, KIND_EVENT)]
                    )
                else:
                    await teach(routed)
            for event in ingested.events:
                hub.metrics.events_out.labels(partner, event.event_type.value).inc()
            hub.metrics.raw_accepted.labels(partner).inc()
