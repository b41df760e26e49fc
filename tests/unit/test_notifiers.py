"""The webhook sink retries transient failures and gives up on refusals (loopback server)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.cases.models import Escalation
from hub.chain.findings import Severity
from hub.errors import DeliveryError
from hub.runtime.notifiers import WebhookNotifier
from hub.sim.stack import free_port

pytestmark = pytest.mark.req("REQ-FN-ESCALATION", "REQ-A11-CONTINUITY")

ESCALATION = Escalation(
    escalation_id="esc-1", case_id="case-1", case_version=1, coi_id="COI", code="CUSTODY_GAP",
    severity=Severity.HIGH, level=1, recipient_role="operations-on-call", channel="webhook",
    reason="NEW_CASE", issued_at=datetime(2026, 11, 24, tzinfo=UTC), message="gap",
)  # fmt: skip


def serve(statuses: list[int], port: int = 0) -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Idempotency-Key"])
            self.send_response(statuses[min(len(seen), len(statuses)) - 1])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


async def send(url: str, retry_for_s: float = 5.0) -> list[int]:
    retries: list[int] = []
    notifier = WebhookNotifier(
        url, retry_for_s=retry_for_s, backoff_s=0.01, on_retry=lambda: retries.append(1)
    )
    try:
        await notifier.send(ESCALATION)
    finally:
        await notifier.close()
    return retries


def test_transient_failures_are_retried_until_delivered() -> None:
    server, seen = serve([503, 500, 204])
    try:
        retries = asyncio.run(send(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["esc-1", "esc-1", "esc-1"]
    assert len(retries) == 2


def test_a_refusal_is_not_retried_and_raises() -> None:
    server, seen = serve([400])
    try:
        with pytest.raises(DeliveryError, match="HTTP 400"):
            asyncio.run(send(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["esc-1"]


def test_an_unreachable_receiver_raises_once_its_retry_time_is_spent() -> None:
    with pytest.raises(DeliveryError, match="ConnectError"):
        asyncio.run(send(f"http://127.0.0.1:{free_port()}/hook", retry_for_s=0.1))


def test_a_receiver_down_for_a_while_gets_the_notification_once_it_is_back() -> None:
    """Down (connection refused) for longer than any fixed number of quick attempts: the
    notification waits and is delivered, once, when the receiver listens again."""
    port = free_port()
    retries: list[int] = []

    async def scenario() -> list[str]:
        notifier = WebhookNotifier(
            f"http://127.0.0.1:{port}/hook", retry_for_s=30.0, backoff_s=0.01,
            max_backoff_s=0.05, on_retry=lambda: retries.append(1),
        )  # fmt: skip
        task = asyncio.create_task(notifier.send(ESCALATION))
        while len(retries) < 8:  # refused 8 times: more than the old fixed 5 attempts
            assert not task.done()
            await asyncio.sleep(0.01)
        server, seen = serve([204], port)
        try:
            await task
        finally:
            server.shutdown()
            server.server_close()
            await notifier.close()
        return seen

    assert asyncio.run(scenario()) == ["esc-1"]
    assert len(retries) >= 8
