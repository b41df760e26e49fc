"""``project_cases`` (cases -> Redis read model) and ``notify`` (escalations -> notifier sinks,
exactly once in effect per escalation id)."""

from __future__ import annotations

import logging
from typing import Any

from hub.errors import DeliveryError
from hub.runtime.context import Worker
from hub.runtime.notifiers import LogNotifier, Notifier, WebhookNotifier
from hub.runtime.tablestore import row_writer

log = logging.getLogger("v2v.runtime")


def register(hub: Worker, cases_topic: Any, escalations_topic: Any) -> None:
    settings = hub.settings
    sinks: dict[str, Notifier] = {"log": LogNotifier()}
    sinks["webhook"] = (
        WebhookNotifier(
            settings.webhook_url,
            retry_for_s=settings.webhook_retry_for_s,
            max_backoff_s=settings.webhook_max_backoff_s,
            on_retry=hub.metrics.notification_retries.labels("webhook").inc,
        )
        if settings.webhook_url
        else sinks["log"]
    )

    @hub.app.agent(cases_topic, name="project_cases")
    async def project_cases(stream: Any) -> None:
        async for record in stream.events():
            case = await hub.decode(record.message, hub.wires.cases, "case")
            if case is not None:
                await hub.project(hub.projection.case_updated(case), [case.coi_id])

    # Which escalations were delivered, in a table of the worker's own (changelog in Kafka):
    # a replay after a restart, or after Redis lost its keys, never notifies twice, and a
    # Redis outage never holds a notification back.
    notified = hub.app.Table("notified", partitions=settings.topic_partitions, key_type=str)
    # Written with the partition given: Faust's notified[key] = ... first checks the source
    # topic's partition count against the changelog's in the consumer's metadata, which may not
    # list the changelog yet (0 partitions: PartitionsMismatch, the agent crashed past the
    # escalation).
    mark = row_writer(notified)

    @hub.app.agent(escalations_topic, name="notify")
    async def notify(stream: Any) -> None:
        async for record in stream.events():
            escalation = await hub.decode(record.message, hub.wires.escalations, "escalation")
            if escalation is None:
                continue
            key = escalation.escalation_id
            if notified.get(key):
                continue  # delivered before (a replay after a restart): exactly once in effect
            sink = sinks.get(escalation.channel, sinks["log"])
            try:
                await sink.send(escalation)
            except DeliveryError as exc:
                hub.metrics.notification_failures.labels(escalation.channel).inc()
                log.error("notification failed, logged instead: %s", exc)
                await sinks["log"].send(escalation)
            mark(key, {"delivered": True}, record.message.partition)
            await hub.project(hub.projection.mark_notified(key))  # shown in the read model
            hub.metrics.escalations.labels(
                escalation.severity.value, str(escalation.level), escalation.channel
            ).inc()
