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


def serve(statuses: list[int]) -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Idempotency-Key"])
            self.send_response(statuses[min(len(seen), len(statuses)) - 1])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


async def send(url: str) -> None:
    notifier = WebhookNotifier(url, attempts=3, backoff_s=0.01)
    try:
        await notifier.send(ESCALATION)
    finally:
        await notifier.close()


def test_transient_failures_are_retried_until_delivered() -> None:
    server, seen = serve([503, 500, 204])
    try:
        asyncio.run(send(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["esc-1", "esc-1", "esc-1"]


def test_a_refusal_is_not_retried_and_raises() -> None:
    server, seen = serve([400])
    try:
        with pytest.raises(DeliveryError, match="HTTP 400"):
            asyncio.run(send(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["esc-1"]


def test_an_unreachable_receiver_raises_after_all_attempts() -> None:
    with pytest.raises(DeliveryError, match="ConnectError"):
        asyncio.run(send(f"http://127.0.0.1:{free_port()}/hook"))
