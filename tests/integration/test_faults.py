"""The fault suite: a simulated network through the real stack while the worker is SIGKILLed
and restarted, compared with the same scenario through the flow core in memory (no faults).

Asserted: the final case set is identical (ids, versions, statuses); every escalation the
fault-free run issues is issued, none twice; each webhook escalation reaches a real loopback
receiver exactly once; every event the hub should write is written (distinct), duplicates from
replays are counted, never counted as progress. ``make test`` runs a bounded version (3 kills,
6 patients); ``make faults`` the full one (V2V_FAULT_KILLS, V2V_FAULT_PATIENTS). The suite
prints its figures: kills survived, seconds to ready after each restart, duplicates suppressed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.settings import Settings
from hub.sim.arrival import REALISTIC
from hub.sim.live import collect, feed
from hub.sim.offline import run_offline
from hub.sim.scenario import build
from hub.sim.stack import WorkerProcess, free_port
from hub.topics import ensure_topics

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.req("REQ-A11-CONTINUITY", "REQ-INV-01"),
]

KILLS = int(os.environ.get("V2V_FAULT_KILLS", "3"))
PATIENTS = int(os.environ.get("V2V_FAULT_PATIENTS", "6"))
SEED = 11


class Receiver:
    """A loopback webhook receiver counting deliveries per escalation id."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.seen[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/escalations"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_worker_killed_repeatedly_loses_and_duplicates_nothing(
    hub_settings: Settings, receiver: Receiver, tmp_path
) -> None:
    scenario = build(SEED, PATIENTS, arrival=REALISTIC)
    key = hub_settings.pseudonym_secret()
    plan = run_offline(
        scenario,
        hub_settings.profile_dir,
        hub_settings.escalation_policy_file,
        key,
        hub_settings.partner_dir,
    )
    settings = hub_settings.model_copy(update={"partners": [], "webhook_url": receiver.url})
    ensure_topics(settings)
    hours = int((scenario.horizon - scenario.start).total_seconds() // 3600)
    kill_at = {hours * (i + 1) // (KILLS + 1) for i in range(KILLS)}
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    recovered: list[float] = []

    def crash(hour: int) -> None:
        if hour not in kill_at:
            return
        worker.kill()
        began = time.monotonic()
        worker.start()
        worker.wait_ready()
        recovered.append(time.monotonic() - began)

    try:
        worker.wait_ready()
        events, dlq = feed(settings, scenario, plan, crash)
        result = collect(settings, scenario, plan, dlq, lambda: 0.0)
    finally:
        worker.stop()
    print(
        f"\nfaults: {len(recovered)} SIGKILLs survived over {hours} simulated hours; ready again "
        f"after {', '.join(f'{s:.1f}' for s in recovered)} s; duplicate event records "
        f"suppressed {events.duplicates}, duplicate dead letters {dlq.duplicates}"
    )
    assert len(recovered) == KILLS

    def brief(cases):  # type: ignore[no-untyped-def]
        return {(c.case_id, c.version, c.status.value) for c in cases}

    assert brief(result.cases) == brief(plan.cases.values())
    assert result.escalations == len({e.escalation_id for e in plan.escalations})
    webhook = {e.escalation_id for e in plan.escalations if e.channel == "webhook"}
    assert webhook, "the scenario escalates to the webhook"
    assert set(receiver.seen) == webhook
    assert max(receiver.seen.values()) == 1, receiver.seen.most_common(3)
    assert len(result.dead_letters) == len(plan.dead_letters)
