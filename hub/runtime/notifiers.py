"""Notifier sinks: where an escalation goes once it is owed.

Delivery is at least once (a sink may be called again for the same escalation after a crash);
the escalation agent makes the effect exactly once with a Redis idempotency key per escalation
id, set only after the sink succeeded.
"""

from __future__ import annotations

import asyncio
import logging
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
    """HTTP POST of the escalation as JSON, retried with exponential backoff.

    The ``Idempotency-Key`` header carries the escalation id, so a receiver can drop the repeat
    that at-least-once delivery may cause.
    """

    def __init__(
        self, url: str, *, attempts: int = 5, backoff_s: float = 0.5, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, escalation: Escalation) -> None:
        body = escalation.model_dump(mode="json")
        headers = {"Idempotency-Key": escalation.escalation_id}
        delay = self.backoff_s
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(self.url, json=body, headers=headers)
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this request; retrying will not help
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise DeliveryError(f"webhook {self.url}: escalation {escalation.escalation_id}: {last}")

    async def close(self) -> None:
        await self._client.aclose()
