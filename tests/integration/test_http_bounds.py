"""The worker's HTTP surface against the real stack: odd, huge, deep and slow bodies get a 4xx,
never a 500; slow clients cannot starve the read model's Redis pool; a stalled or stopped Redis
makes reads answer 503 with the reason, and they recover by themselves."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.bodies import json_depth
from hub.ingress.http import create_ingress_app
from hub.ingress.producer import RawProducer
from hub.settings import REPO_ROOT, Settings
from hub.sim.stack import WorkerProcess
from hub.topics import ensure_topics
from tests.integration.test_broker_outage import open_case

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-A11-CONTINUITY")]

COI = "V2VSAMPLE000001T"
STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"
STATE = Path(os.environ.get("V2V_STATE_DIR", REPO_ROOT / ".local"))
NEVER = {500, 501, 502, 504}
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.fixture
def bounded(hub_settings: Settings) -> Settings:
    return hub_settings.model_copy(
        update={"http_body_timeout_s": 3.0, "redis_read_pool_size": 4, "redis_timeout_s": 1.0}
    )


@pytest.fixture
def hub(bounded: Settings, tmp_path: Path) -> Any:
    ensure_topics(bounded)
    with WorkerProcess(bounded, tmp_path / "worker.log").running() as proc:
        yield proc


@pytest.fixture
def case_id(bounded: Settings, hub: WorkerProcess, tokens: Any) -> str:
    """An open case (CUSTOMS_HOLD) the worker opened from a real courier message."""
    return open_case(bounded, hub, tokens)


def test_a_huge_or_deep_command_body_is_a_4xx_with_the_reason(hub, case_id, tokens) -> None:
    olga = tokens.headers("op-olga", "operator")
    url = f"{hub.url}/cases/{case_id}/comment"
    huge = httpx.post(url, json={"reason": "x" * 1_000_000}, headers=olga, timeout=10)
    assert huge.status_code == 413, huge.text
    assert huge.json() == {"error": "body too large", "max_body_bytes": 64 * 1024}
    deep = b'{"reason": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"  # 20 KB, 10,000 deep
    nested = httpx.post(url, content=deep, headers=olga, timeout=10)
    assert nested.status_code == 400, nested.text
    assert nested.json()["reason"] == "JSON nesting deeper than 32 levels"
    fine = httpx.post(url, json={"comment": "checked the shipper"}, headers=olga, timeout=10)
    assert fine.status_code == 202, fine.text


odd_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)
field_names = st.sampled_from(["reason", "comment", "assignee", "resolution", "actor", "meaning"])
command_bodies = (
    st.dictionaries(field_names, odd_json, max_size=4).map(lambda d: json.dumps(d).encode())
    | odd_json.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.integers(1, 200).map(lambda n: b"[" * n + b"]" * n)
)


def test_odd_command_bodies_never_get_a_5xx(hub, case_id, tokens) -> None:
    headers = tokens.headers("qp-anna", "qualified-person", name="Anna Berg")
    seen: Counter[int] = Counter()

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        action=st.sampled_from(["ack", "comment", "assign", "resolve", "nonsense"]),
        body=command_bodies,
    )
    def post(action: str, body: bytes) -> None:
        answer = httpx.post(
            f"{hub.url}/cases/{case_id}/{action}", content=body, headers=headers, timeout=15
        )
        seen[answer.status_code] += 1
        assert answer.status_code not in NEVER, (body[:200], answer.text[:300])
        assert "error" in answer.json() or answer.status_code == 202

    post()
    print(f"\nodd command bodies, answers by status: {dict(sorted(seen.items()))}")
    assert seen[400] > 0  # the bodies did reach the refusals, not only the router


def _stall(url: str, path: str, auth: dict[str, str], count: int) -> list[socket.socket]:
    """``count`` clients that send a command's headers and a third of its body, then stall."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth['Authorization']}\r\nContent-Length: 300\r\n\r\n"
    )
    stalled = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(head.encode() + b'{"comment": "' + b"x" * 87)
        stalled.append(sock)
    return stalled


def test_stalled_clients_do_not_starve_the_reads(hub, case_id, tokens) -> None:
    reader = tokens.headers("au-alex", "auditor")
    olga = tokens.headers("op-olga", "operator")

    async def run() -> tuple[Counter[int], float]:
        stalled = _stall(hub.url, f"/cases/{case_id}/comment", olga, 200)
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                started = time.monotonic()
                answers = await asyncio.gather(
                    *(client.get(f"{hub.url}/cases/{case_id}", headers=reader) for _ in range(300))
                )
                took = time.monotonic() - started
        finally:
            for sock in stalled:
                sock.close()
        return Counter(a.status_code for a in answers), took

    statuses, took = asyncio.run(run())
    print(f"\n300 reads beside 200 stalled clients (read pool 4): {dict(statuses)} in {took:.2f}s")
    assert set(statuses) <= {200, 503}
    assert statuses[200] >= 290  # a pool of 4 serves 300 reads in turn within its wait bound


def test_a_stalled_body_is_answered_408_after_the_body_timeout(
    hub, bounded, case_id, tokens
) -> None:
    olga = tokens.headers("op-olga", "operator")
    [sock] = _stall(hub.url, f"/cases/{case_id}/comment", olga, 1)
    try:
        sock.settimeout(bounded.http_body_timeout_s + 10)
        started = time.monotonic()
        head = sock.recv(4096).decode()
        took = time.monotonic() - started
    finally:
        sock.close()
    assert head.startswith("HTTP/1.1 408"), head
    assert head.endswith('{"error":"body not received in time","body_timeout_s":3.0}')
    assert bounded.http_body_timeout_s - 0.5 < took < bounded.http_body_timeout_s + 2


def _redis_pid() -> int:
    return int((STATE / "redis.pid").read_text())


def _get(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=30)


def _wait_status(url: str, headers: dict[str, str], status: int, timeout_s: float = 30) -> float:
    started = time.monotonic()
    while (answer := _get(url, headers)).status_code != status:
        assert answer.status_code not in NEVER, answer.text
        assert time.monotonic() - started < timeout_s, (status, answer.status_code, answer.text)
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_redis_stall_or_outage_is_503_with_the_reason_and_recovers(
    hub, bounded, case_id, tokens
) -> None:
    redis_port = bounded.redis_url.rsplit(":", 1)[1].split("/")[0]
    if redis_port != os.environ.get("V2V_LOCAL_REDIS_PORT", "16379"):
        pytest.fail("this test stalls and stops the local stack's Redis (deploy/local/stack.sh)")
    reader = tokens.headers("au-alex", "auditor")
    cases = f"{hub.url}/cases/{case_id}"
    assert _get(cases, reader).status_code == 200
    pid = _redis_pid()
    os.kill(pid, signal.SIGSTOP)  # a stall: connections open, no answers
    try:
        started = time.monotonic()
        stalled = _get(cases, reader)
        stall_503_s = time.monotonic() - started
        ready = httpx.get(f"{hub.url}/ready", timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert stalled.status_code == 503, stalled.text
    assert stalled.json()["error"] == "read model unavailable; retry"
    assert stalled.headers["Retry-After"]
    assert ready.status_code == 503, ready.text
    assert ready.json()["redis"] != "ok"
    recovered_stall_s = _wait_status(cases, reader, 200)

    env = {**os.environ}
    subprocess.run([str(STACK), "stop", "redis"], env=env, check=True, capture_output=True)
    try:
        started = time.monotonic()
        down = _get(cases, reader)
        down_503_s = time.monotonic() - started
        not_ready = httpx.get(f"{hub.url}/ready", timeout=30)
    finally:
        subprocess.run([str(STACK), "start", "redis"], env=env, check=True, capture_output=True)
    assert down.status_code == 503, down.text
    assert "reason" in down.json()
    assert not_ready.status_code == 503
    assert not_ready.json()["reasons"][0].startswith("redis:")
    recovered_down_s = _wait_status(cases, reader, 200)  # append-only: the case is still there
    _wait_status(f"{hub.url}/ready", {}, 200)
    print(
        f"\nRedis stalled: 503 after {stall_503_s:.2f}s, 200 again {recovered_stall_s:.2f}s "
        f"after SIGCONT; Redis stopped: 503 after {down_503_s:.2f}s, 200 again "
        f"{recovered_down_s:.2f}s after restart"
    )
    assert stall_503_s < 5
    assert down_503_s < 5


ingress_bodies = (
    odd_json.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.integers(1, 300).map(lambda n: b"[" * n + b"]" * n)
    | st.integers(1, 300).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
)


def test_odd_ingress_bodies_never_get_a_5xx(bounded, tokens) -> None:
    """The ingress on the real broker: odd bodies are written raw (the normaliser dead-letters
    what it cannot read) or refused with a 4xx; a deep JSON body is a 400 with the reason."""
    ensure_topics(bounded)
    headers = {**tokens.headers("courier-gateway", "partner:courier"), **JSON_TYPE}
    seen: Counter[int] = Counter()
    loop = asyncio.new_event_loop()
    with RawProducer(bounded) as writer:
        app = create_ingress_app(bounded, writer, max_body_bytes=4096)
        client = TestClient(TestServer(app, host="127.0.0.1"), loop=loop)
        loop.run_until_complete(client.start_server())

        def ingest(body: bytes) -> tuple[int, Any]:
            async def one() -> tuple[int, Any]:
                async with client.post("/ingest/courier", data=body, headers=headers) as answer:
                    return answer.status, await answer.json()

            return loop.run_until_complete(one())

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(body=ingress_bodies)
        def post(body: bytes) -> None:
            status, answer = ingest(body)
            seen[status] += 1
            assert status in (202, 400, 413), answer
            if json_depth(body) > bounded.http_max_json_depth:
                assert status == 400
                assert answer["reason"] == "JSON nesting deeper than 32 levels"

        try:
            post()
            huge, answer = ingest(b" " * 5000)
        finally:
            loop.run_until_complete(client.close())
            loop.close()
    print(f"\nodd ingress bodies, answers by status: {dict(sorted(seen.items()))}")
    assert huge == 413
    assert answer["max_body_bytes"] == 4096
    assert seen[202] > 0
    assert seen[400] > 0


def test_a_deep_xml_ingress_body_is_a_400_and_a_real_one_is_written(bounded, tokens) -> None:
    """The XML feeds' bound: elements nested past V2V_HTTP_MAX_XML_DEPTH are refused at the edge
    with the reason (before, they reached the raw topic and only the parser refused them);
    a MESA B2MML sample passes."""
    bounded = bounded.model_copy(update={"partners": ["mes"]})
    ensure_topics(bounded)
    headers = {**tokens.headers("mes-gateway", "partner:mes"), "Content-Type": "application/xml"}
    sample = sorted((REPO_ROOT / "connectors" / "mes" / "samples").glob("*.xml"))[0].read_bytes()
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    loop = asyncio.new_event_loop()
    with RawProducer(bounded) as writer:
        app = create_ingress_app(bounded, writer, max_body_bytes=1024 * 1024)
        client = TestClient(TestServer(app, host="127.0.0.1"), loop=loop)
        loop.run_until_complete(client.start_server())

        async def ingest(body: bytes) -> tuple[int, Any]:
            async with client.post("/ingest/mes", data=body, headers=headers) as answer:
                return answer.status, await answer.json()

        try:
            refused = loop.run_until_complete(ingest(deep))
            written = loop.run_until_complete(ingest(sample))
        finally:
            loop.run_until_complete(client.close())
            loop.close()
    assert refused == (
        400,
        {
            "error": "body nested too deeply",
            "reason": "XML elements nested deeper than 128 levels",
            "max_xml_depth": 128,
            "partner": "mes",
        },
    )
    assert written[0] == 202, written
    assert written[1]["topic"] == bounded.topic("raw.mes")
