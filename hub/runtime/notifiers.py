"""Notifier sinks: where an escalation goes once it is owed.

Delivery is at least once (a sink may be called again for the same escalation after a crash);
the escalation agent makes the effect exactly once with a marker per escalation id in a table
of its own (changelog in Kafka), set only after the sink succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from hub.cases.models import Escalation
from hub.errors import DeliveryError

log = logging.getLogger("v2v.notify")


class Notifier(Protocol):
    async def send(self, escalation: Escalation) -> None:
        """Deliver, or raise DeliveryError after giving up."""


class LogNotifier:
    """Writes the escalation to the hub's log (channel ``log``, and the fallback)."""

    async def send(self, escalation: Escalation) -> None:
        log.warning(
            "ESCALATION level=%s to=%s code=%s severity=%s chain=%s case=%s: %s",
            escalation.level,
            escalation.recipient_role,
            escalation.code,
            escalation.severity.value,
            escalation.coi_id,
            escalation.case_id,
            escalation.message,
        )


class WebhookNotifier:
    """HTTP POST of the escalation as JSON, retried with exponential backoff until delivered.

    The ``Idempotency-Key`` header carries the escalation id, so a receiver can drop the repeat
    that at-least-once delivery may cause. A receiver that is down (or answers 5xx, 408, 429) is
    tried again, the pause doubling up to ``max_backoff_s``, for ``retry_for_s``: an outage of
    the receiver delays notifications, it does not lose them. A refusal (other 4xx) is final.
    ``on_retry`` is called before each pause (the worker counts retries).
    """

    def __init__(
        self,
        url: str,
        *,
        retry_for_s: float = 86400.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 5.0,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.retry_for_s = retry_for_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.on_retry = on_retry
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, escalation: Escalation) -> None:
        body = escalation.model_dump(mode="json")
        headers = {"Idempotency-Key": escalation.escalation_id}
        give_up = time.monotonic() + self.retry_for_s
        delay = self.backoff_s
        last = ""
        while True:
            try:
                response = await self._client.post(self.url, json=body, headers=headers)
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this request; retrying will not help
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + delay > give_up:
                break
            if self.on_retry is not None:
                self.on_retry()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)
        raise DeliveryError(f"webhook {self.url}: escalation {escalation.escalation_id}: {last}")

    async def close(self) -> None:
        await self._client.aclose()
