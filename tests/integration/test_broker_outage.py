"""A broker outage on the real local stack (``deploy/local/stack.sh stop kafka``, then ``start``):
the worker turns unready with the reason and ready again by itself; ingress answers 503 with
Retry-After within its delivery timeout and never 202; the file drop leaves the file to retry;
SIGTERM stops a worker within 10 s while the broker is gone; the worker's log stays quiet.

And SIGTERM in the other states a worker is found in: starting, idle, busy. Each test prints
its figures (seconds to 503 / unready / ready again / stopped, log lines per outage).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.conformance import sample_files
from hub.ingress.filedrop import watch
from hub.ingress.http import create_ingress_app
from hub.ingress.producer import RawProducer
from hub.settings import REPO_ROOT, Settings
from hub.sim.stack import Feeder, WorkerProcess, free_port
from hub.topics import Topics, ensure_topics
from tests.integration.test_ingress import call

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-A11-CONTINUITY")]

STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"
PICKUP = sample_files("courier")[0]
HEADERS = {"Content-Type": "application/json"}
OUTAGE_S = 30.0  # how long the broker stays down: the window the log lines are counted over
STOP_LIMIT_S = 10.0
_HELD = re.compile(r"\[(\d+) similar lines held back|(\d+) lines like .* held back")


class Broker:
    """The local stack's broker, stopped and started alone (Redis keeps running)."""

    def __init__(self, bootstrap: str) -> None:
        port = bootstrap.rsplit(":", 1)[1]
        if port != os.environ.get("V2V_LOCAL_KAFKA_PORT", "19092"):
            pytest.fail(
                f"broker outage tests stop the local stack's broker (deploy/local/stack.sh); "
                f"{bootstrap} is not it (set V2V_LOCAL_KAFKA_PORT to its port)"
            )

    def _stack(self, verb: str) -> None:
        # a broker restart on a loaded machine can take minutes; the test measures the hub
        env = {"V2V_LOCAL_READY_TIMEOUT_S": "300", **os.environ}
        done = subprocess.run([str(STACK), verb, "kafka"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"stack.sh {verb} kafka failed:\n{done.stderr}"

    def stop(self) -> None:
        self._stack("stop")

    def start(self) -> None:
        self._stack("start")


@pytest.fixture
def broker(services: tuple[str, str]) -> Iterator[Broker]:
    b = Broker(services[0])
    try:
        yield b
    finally:
        b.start()  # idempotent: the broker is back for the tests after this one


def other_hub(settings: Settings) -> Settings:
    """A second deployment on the same broker: its own app id (group), port and state."""
    run = f"{settings.app_id}-b"
    return settings.model_copy(
        update={
            "app_id": run,
            "web_port": free_port(),
            "data_dir": settings.data_dir.parent / "faust-b",
        }
    )


def post(settings: Settings, writer: RawProducer, tokens: Any) -> tuple[int, Any, Any, float]:
    started = time.monotonic()
    [(status, answer, headers)] = call(
        create_ingress_app(settings, writer),
        (
            "POST",
            "/ingest/courier",
            {"data": PICKUP.read_bytes(), "headers": HEADERS},
        ),
        auth=tokens.headers("courier-gateway", "partner:courier"),
    )
    return status, answer, headers, time.monotonic() - started


def open_case(settings: Settings, worker: WorkerProcess, tokens: Any) -> str:
    """The id of a case the worker opened from a real courier message (CUSTOMS_HOLD)."""
    hold = next(p for p in sample_files("courier") if p.name.startswith("05")).read_bytes()
    at = datetime.fromisoformat(json.loads(hold)["event_time"]).astimezone(UTC)
    with Feeder(settings) as feeder:
        feeder.send(
            Topics.of(settings).raw["courier"],
            [(b"V2VSAMPLE000001T", hold, None)],
            at=at + timedelta(minutes=1),
        )
    worker.wait_metric("v2v_cases_opened_total", 1, code="CUSTOMS_HOLD")
    reader = tokens.headers("au-alex", "auditor")
    deadline = time.monotonic() + 30
    while not (cases := httpx.get(f"{worker.url}/cases", headers=reader).json()["cases"]):
        assert time.monotonic() < deadline, "the case never reached the read model"
        time.sleep(0.1)
    return str(cases[0]["case_id"])


def ready(worker: WorkerProcess) -> httpx.Response:
    return httpx.get(f"{worker.url}/ready", timeout=30)


def log_lines(path: Path, offset: int) -> list[str]:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace").splitlines()


def stop_time(worker: WorkerProcess) -> tuple[float, int | None]:
    started = time.monotonic()
    rc = worker.stop(timeout_s=30)
    return time.monotonic() - started, rc


def test_a_broker_outage(hub_settings, broker, tokens, tmp_path) -> None:
    settings = hub_settings.model_copy(
        update={"delivery_timeout_s": 3.0, "log_repeat_interval_s": 10.0}
    )
    ensure_topics(settings)
    main = WorkerProcess(settings, tmp_path / "main.log").start()
    second = WorkerProcess(other_hub(settings), tmp_path / "second.log").start()
    drop = tmp_path / "drop"
    drop.mkdir()
    try:
        main.wait_ready()
        second.wait_ready()
        assert ready(main).json() | {"partitions": 0} == {
            "ready": True, "partitions": 0, "broker": "ok", "redis": "ok"
        }  # fmt: skip
        case_url = f"{main.url}/cases/{open_case(settings, main, tokens)}/comment"
        olga = tokens.headers("op-olga", "operator")
        with RawProducer(settings) as writer:
            assert post(settings, writer, tokens)[0] == 202
            offset = main.log_path.stat().st_size

            broker.stop()  # returns once the broker process is gone
            down_at = time.monotonic()
            while (answer := ready(main)).status_code == 200:
                assert time.monotonic() - down_at < 30, "still ready without a broker"
                time.sleep(0.2)
            unready_s = time.monotonic() - down_at
            body = answer.json()
            assert body["ready"] is False
            assert body["broker"] != "ok"
            assert body["redis"] == "ok"
            assert body["reasons"][0].startswith("broker: ")

            status, answer, headers, to_503_s = post(settings, writer, tokens)
            assert status == 503, answer
            assert answer["error"] == "not acknowledged by Kafka; retry"
            assert headers["Retry-After"] == "3"

            (drop / "01-pickup.json").write_bytes(PICKUP.read_bytes())
            report = watch(settings, "courier", drop, 0.1, once=True, producer=writer)
            assert report.pending == ["01-pickup.json"]
            assert (drop / "01-pickup.json").exists()

            started = time.monotonic()
            command = httpx.post(case_url, json={"comment": "x"}, headers=olga, timeout=30)
            command_503_s = time.monotonic() - started
            assert command.status_code == 503, command.text  # never 202 unacknowledged
            assert command.json()["error"] == "Kafka unavailable; retry"
            assert command.headers["Retry-After"] == "3"

            sigterm_s, rc = stop_time(second)
            while time.monotonic() - down_at < OUTAGE_S:
                time.sleep(0.5)  # the outage lasts OUTAGE_S: the window the lines are counted in
            outage = log_lines(main.log_path, offset)
            broker.start()  # returns once the broker answers again
            up_at = time.monotonic()
            main.wait_ready(timeout_s=120)
            recovered_s = time.monotonic() - up_at
            deadline = time.monotonic() + 60
            while (status := post(settings, writer, tokens)[0]) != 202:
                assert status == 503
                assert time.monotonic() < deadline, "ingress never accepted again"
            report = watch(settings, "courier", drop, 0.1, once=True, producer=writer)
            assert report.done == ["01-pickup.json"]
    finally:
        second.stop()
        main.stop()
    held = sum(int(a or b) for line in outage for a, b in _HELD.findall(line))
    print(
        f"\nbroker down {OUTAGE_S:.0f}s: /ready 503 after {unready_s:.2f}s; ingress 503 after "
        f"{to_503_s:.2f}s, a case command 503 after {command_503_s:.2f}s (delivery timeout "
        f"3s); SIGTERM with the broker down: stopped in "
        f"{sigterm_s:.2f}s (rc {rc}); worker log: {len(outage)} lines written, {held} more "
        f"held back (unthrottled: {len(outage) + held}); ready again {recovered_s:.2f}s after "
        f"the broker"
    )
    assert unready_s < 10
    assert to_503_s < 3 + 5  # delivery timeout plus the callback grace
    assert command_503_s < 3 + 2
    assert sigterm_s < STOP_LIMIT_S
    assert len(outage) < 200, "\n".join(outage[-40:])


def test_sigterm_stops_a_worker_within_10s_starting_idle_and_busy(hub_settings, tmp_path) -> None:
    ensure_topics(hub_settings)
    topics = Topics.of(hub_settings)
    figures = {}

    starting = WorkerProcess(hub_settings, tmp_path / "starting.log").start()
    deadline = time.monotonic() + 60
    while "Starting" not in starting.tail(200):  # Faust is starting its services
        assert time.monotonic() < deadline, starting.tail()
        time.sleep(0.05)
    figures["starting"] = stop_time(starting)

    idle = WorkerProcess(hub_settings, tmp_path / "idle.log").start()
    idle.wait_ready()
    figures["idle"] = stop_time(idle)

    busy = WorkerProcess(hub_settings, tmp_path / "busy.log").start()
    busy.wait_ready()
    body = PICKUP.read_bytes()
    with Feeder(hub_settings) as feeder:
        feeder.send(topics.raw["courier"], [(None, body, None)] * 3000)
    busy.wait_metric("v2v_raw_messages_total", 1, timeout_s=60)  # processing has begun
    figures["busy"] = stop_time(busy)
    print(
        "\nSIGTERM to exit: "
        + ", ".join(f"{state} {took:.2f}s (rc {rc})" for state, (took, rc) in figures.items())
    )
    for state, (took, _rc) in figures.items():
        assert took < STOP_LIMIT_S, state
