"""``project_cases`` (cases -> Redis read model) and ``notify`` (escalations -> notifier sinks,
exactly once in effect per escalation id)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from redis.exceptions import RedisError

from hub.errors import DeliveryError
from hub.runtime.context import Worker
from hub.runtime.notifiers import LogNotifier, Notifier, WebhookNotifier

log = logging.getLogger("v2v.runtime")


async def until_redis_answers(call: Callable[[], Awaitable[bool]]) -> bool:
    """Notification idempotency needs Redis: wait for it rather than notify twice or never."""
    delay = 0.5
    while True:
        try:
            return await call()
        except RedisError as exc:
            log.warning("Redis unavailable for notification idempotency, retrying: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def register(hub: Worker, cases_topic: Any, escalations_topic: Any) -> None:
    settings = hub.settings
    sinks: dict[str, Notifier] = {"log": LogNotifier()}
    sinks["webhook"] = (
        WebhookNotifier(settings.webhook_url, attempts=settings.webhook_attempts)
        if settings.webhook_url
        else sinks["log"]
    )

    @hub.app.agent(cases_topic, name="project_cases")
    async def project_cases(stream: Any) -> None:
        async for record in stream.events():
            case = await hub.decode(record.message, hub.wires.cases, "case")
            if case is not None:
                await hub.project(hub.projection.case_updated(case))

    @hub.app.agent(escalations_topic, name="notify")
    async def notify(stream: Any) -> None:
        async for record in stream.events():
            escalation = await hub.decode(record.message, hub.wires.escalations, "escalation")
            if escalation is None:
                continue
            key = escalation.escalation_id
            if await until_redis_answers(partial(hub.projection.was_notified, key)):
                continue  # delivered before (a replay after a restart): exactly once in effect
            sink = sinks.get(escalation.channel, sinks["log"])
            try:
                await sink.send(escalation)
            except DeliveryError as exc:
                hub.metrics.notification_failures.labels(escalation.channel).inc()
                log.error("notification failed, logged instead: %s", exc)
                await sinks["log"].send(escalation)
            await until_redis_answers(partial(hub.projection.mark_notified, key))
            hub.metrics.escalations.labels(
                escalation.severity.value, str(escalation.level), escalation.channel
            ).inc()
