"""HTTP ingress and file drop against the real Kafka broker: 202 / done/ only after Kafka
acknowledged the raw record, every refusal a JSON 4xx (or failed/) with nothing written."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.conformance import sample_files
from connectors.courier.normalise import CourierConnector
from hub.errors import NormalisationError
from hub.ingress.filedrop import watch
from hub.ingress.http import create_ingress_app
from hub.ingress.producer import RawProducer
from hub.settings import Settings
from hub.sim.stack import TopicReader, free_port
from hub.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.req("REQ-FN-INGRESS", "REQ-INV-01")]

PICKUP, DEPARTED = sample_files("courier")[:2]
JSON = "application/json"


class RefusingCourier(CourierConnector):
    """The courier connector, refusing at the edge any payload that contains ``REFUSE-ME``.

    No connector enabled in these tests refuses anything in ``prepare_raw`` (the courier feed
    carries no patient identity, so it keeps the default), yet the edge must honour a refusal
    from an identity-carrying feed. A subclass, passed to the edge like any connector, exercises
    that path without reaching into another connector's parsing rules.
    """

    def prepare_raw(self, payload: bytes) -> bytes:
        if b"REFUSE-ME" in payload:
            raise NormalisationError(
                "identity cannot be pseudonymised", partner=self.name, code="PSEUDONYMISE_FAILED"
            )
        return payload


@pytest.fixture
def topics(hub_settings: Settings) -> Topics:
    ensure_topics(hub_settings)
    return Topics.of(hub_settings)


@pytest.fixture
def producer(hub_settings: Settings) -> Iterator[RawProducer]:
    with RawProducer(hub_settings, delivery_timeout_s=20) as writer:
        yield writer


def unreachable(settings: Settings) -> Settings:
    """The same deployment, pointing at a port where no broker listens."""
    return settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})


def headers_of(record: Any) -> dict[str, bytes]:
    return dict(record.headers() or [])


async def chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def call(
    app: Any, *requests: tuple[str, str, dict[str, Any]], auth: dict[str, str] | None = None
) -> list[tuple[int, Any, Any]]:
    """Serve ``app`` on loopback and make the requests in order: (status, JSON body, headers),
    each with the ``auth`` headers (a bearer token) added."""

    async def run() -> list[tuple[int, Any, Any]]:
        answers = []
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            for method, path, kwargs in requests:
                headers = {**(auth or {}), **kwargs.pop("headers", {})}
                async with client.request(method, path, headers=headers, **kwargs) as response:
                    answers.append((response.status, await response.json(), response.headers))
        return answers

    return asyncio.run(run())


def test_post_answers_202_after_the_raw_record_is_on_kafka(hub_settings, topics, producer, tokens):
    body = PICKUP.read_bytes()
    [(status, answer, _)] = call(
        create_ingress_app(hub_settings, producer),
        (
            "POST",
            "/ingest/courier",
            {
                "data": body,
                "headers": {
                    "Content-Type": "application/json; charset=utf-8",
                    "Idempotency-Key": "CRX-20261124-0001",
                },
            },
        ),
        auth=tokens.headers("courier-gateway", "partner:courier"),
    )
    assert status == 202, answer
    assert answer["status"] == "accepted"
    assert answer["topic"] == topics.raw["courier"]
    with TopicReader(hub_settings, topics.raw["courier"]) as reader:
        assert reader.size() == 1
        assert reader.read_all(timeout_s=30)
    [record] = reader.records
    assert (record.partition(), record.offset()) == (answer["partition"], answer["offset"])
    assert record.value() == body  # the partner's bytes, untouched
    assert record.key() == b"CRX-20261124-0001"
    headers = headers_of(record)
    assert headers["content-type"] == b"application/json; charset=utf-8"
    assert headers["message-id"] == b"CRX-20261124-0001"
    assert headers["ingest-id"].decode() == answer["ingest_id"]
    received = datetime.fromisoformat(headers["v2v.received_at"].decode())
    assert received.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - received) < timedelta(minutes=1)


def test_refusals_are_json_4xx_and_write_nothing(hub_settings, topics, producer, tokens):
    body = PICKUP.read_bytes()
    small = create_ingress_app(
        hub_settings,
        producer,
        max_body_bytes=len(body) - 1,
        connectors={"courier": RefusingCourier()},
    )
    json_type = {"Content-Type": JSON}
    answers = call(
        small,
        ("POST", "/ingest/erp", {"data": body, "headers": json_type}),
        ("POST", "/ingest/courier", {"data": body, "headers": json_type}),
        ("POST", "/ingest/courier", {"data": chunks(body), "headers": json_type}),
        (
            "POST",
            "/ingest/courier",
            {"data": b"a,b\n1,2\n", "headers": {"Content-Type": "text/csv"}},
        ),
        ("POST", "/ingest/courier", {"data": b"{}", "skip_auto_headers": ["Content-Type"]}),
        ("POST", "/ingest/courier", {"data": b'{"n": "REFUSE-ME"}', "headers": json_type}),
        (
            "POST",
            "/ingest/courier",
            {"data": b"{}", "headers": {**json_type, "Idempotency-Key": ""}},
        ),
        ("GET", "/ingest/courier", {}),
        ("GET", "/healthz", {}),
        auth=tokens.headers("ops-integration", "integration"),
    )
    statuses = [status for status, _, _ in answers]
    assert statuses == [404, 413, 413, 415, 415, 422, 400, 405, 200]
    unknown, declared, streamed, wrong, missing, refused, bad_key, method, health = answers
    assert unknown[1] == {"error": "unknown partner", "partner": "erp", "known": ["courier"]}
    assert declared[1]["error"] == streamed[1]["error"] == "body too large"
    assert streamed[1]["max_body_bytes"] == len(body) - 1
    assert wrong[1]["error"] == "unsupported content type"
    assert (wrong[1]["content_type"], wrong[1]["accepted"]) == ("text/csv", [JSON])
    assert missing[1]["error"] == "missing Content-Type"
    assert refused[1] == {
        "error": "refused",
        "partner": "courier",
        "code": "PSEUDONYMISE_FAILED",
        "reason": "identity cannot be pseudonymised",
        "field": None,
    }
    assert "Idempotency-Key" in bad_key[1]["error"]
    assert method[1]["error"] == "method not allowed"
    assert method[2]["Allow"] == "POST"
    assert health[1] == {"status": "ok", "partners": ["courier"]}
    assert all(h["Content-Type"].startswith(JSON) for _, _, h in answers)
    with TopicReader(hub_settings, topics.raw["courier"]) as reader:
        assert reader.size() == 0  # nothing was written: every answer came before a write


@pytest.mark.req("REQ-P11-AUTH")
def test_a_partner_posts_to_its_own_feed_only_and_nobody_without_a_token(
    hub_settings, topics, producer, tokens
):
    body, json_type = PICKUP.read_bytes(), {"Content-Type": JSON}
    app = create_ingress_app(hub_settings, producer)
    sap = tokens.headers("sap-gateway", "partner:sap")
    courier = tokens.headers("courier-gateway", "partner:courier")
    stranger = tokens.idp.mint("courier-gateway", ["partner:courier"], audience="another-app")
    basic = {"Authorization": "Basic eA=="}
    elsewhere = {"Authorization": f"Bearer {stranger}"}
    answers = call(
        app,
        ("POST", "/ingest/courier", {"data": body, "headers": json_type}),
        ("POST", "/ingest/courier", {"data": body, "headers": {**json_type, **sap}}),
        ("POST", "/ingest/courier", {"data": body, "headers": {**json_type, **basic}}),
        ("POST", "/ingest/courier", {"data": body, "headers": {**json_type, **elsewhere}}),
        ("POST", "/ingest/erp", {"data": body, "headers": {**json_type, **courier}}),
        ("GET", "/nowhere", {}),
        ("GET", "/healthz", {}),
        ("POST", "/ingest/courier", {"data": body, "headers": {**json_type, **courier}}),
    )  # fmt: skip
    statuses = [status for status, _, _ in answers]
    assert statuses == [401, 403, 401, 401, 403, 401, 200, 202]
    missing, other_feed, scheme, audience, unknown_feed, nowhere, health, own = answers
    assert missing[1]["error"] == "unauthenticated"
    assert missing[2]["WWW-Authenticate"] == 'Bearer realm="v2v-hub"'
    assert other_feed[1] == {
        "error": "forbidden",
        "reason": "only partner:courier or integration may post to feed 'courier'",
        "rule": "ingest.own-feed",
        "allowed_roles": ["partner:courier", "integration"],
        "your_roles": ["partner:sap"],
    }
    assert scheme[1]["error"] == "unauthenticated"
    assert 'error="invalid_token"' in audience[2]["WWW-Authenticate"]
    assert "udience" in audience[1]["reason"]
    assert unknown_feed[1]["rule"] == "ingest.own-feed"  # a partner learns no feed names
    assert nowhere[1]["error"] == "unauthenticated"
    assert health[1]["status"] == "ok"
    with TopicReader(hub_settings, topics.raw["courier"]) as reader:
        assert reader.size() == 1  # only the partner's own post was written
        assert reader.read_all(timeout_s=30)
    assert reader.records[0].offset() == own[1]["offset"]


@pytest.mark.parametrize("failure", ["broker unreachable", "topic missing"])
@pytest.mark.req("REQ-A11-CONTINUITY")
def test_no_acknowledgement_is_503_never_202(hub_settings, topics, failure, tokens):
    if failure == "broker unreachable":
        target = unreachable(hub_settings)
    else:  # the broker does not auto-create topics, so an uncreated deployment cannot take it
        target = hub_settings.model_copy(update={"topic_prefix": f"{hub_settings.topic_prefix}x"})
    with RawProducer(target, delivery_timeout_s=1.5) as writer:
        started = time.monotonic()
        [(status, answer, headers)] = call(
            create_ingress_app(target, writer),
            (
                "POST",
                "/ingest/courier",
                {"data": PICKUP.read_bytes(), "headers": {"Content-Type": JSON}},
            ),
            auth=tokens.headers("courier-gateway", "partner:courier"),
        )
    assert status == 503, answer
    assert answer["error"] == "not acknowledged by Kafka; retry"
    assert answer["partner"] == "courier"
    assert answer["ingest_id"]
    assert headers["Retry-After"] == "5"
    assert time.monotonic() - started < 15


def test_file_drop_moves_files_only_after_kafka_acknowledged(
    hub_settings, topics, producer, tmp_path
):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "02-departed.json").write_bytes(DEPARTED.read_bytes())
    (drop / "01-pickup.json").write_bytes(PICKUP.read_bytes())
    (drop / "03-refused.json").write_bytes(b'{"message_id": "REFUSE-ME"}')
    (drop / "04-notes.csv").write_bytes(b"a,b\n")
    (drop / "05-upload.json.part").write_bytes(b"{")  # still being written: left alone
    report = watch(
        hub_settings,
        "courier",
        drop,
        poll_interval_s=0.2,
        once=True,
        producer=producer,
        connector=RefusingCourier(),
    )
    assert report.done == ["01-pickup.json", "02-departed.json"]
    assert report.failed == ["03-refused.json", "04-notes.csv"]
    assert report.pending == []
    assert sorted(p.name for p in (drop / "done").iterdir()) == report.done
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == ["05-upload.json.part"]
    reason = (drop / "failed" / "03-refused.json.reason.txt").read_text()
    assert "code: PSEUDONYMISE_FAILED" in reason
    assert "reason: identity cannot be pseudonymised" in reason
    assert "UNSUPPORTED_MEDIA_TYPE" in (drop / "failed" / "04-notes.csv.reason.txt").read_text()

    with TopicReader(hub_settings, topics.raw["courier"]) as reader:
        assert reader.size() == len(report.done) >= 2
        assert reader.read_all(timeout_s=30)
    by_name = {headers_of(r)["file-name"].decode(): r for r in reader.records}
    assert sorted(by_name) == report.done  # one record per file, none for refused files
    for name, record in by_name.items():
        assert record.value() == (drop / "done" / name).read_bytes()
        assert record.key() == name.encode()
        assert headers_of(record)["content-type"] == b"application/json"
        assert datetime.fromisoformat(headers_of(record)["v2v.received_at"].decode()).tzinfo


@pytest.mark.req("REQ-A11-CONTINUITY")
def test_file_drop_keeps_files_in_place_when_kafka_does_not_acknowledge(hub_settings, tmp_path):
    names = ["01-pickup.json", "02-departed.json"]
    for name, sample in zip(names, (PICKUP, DEPARTED), strict=True):
        (tmp_path / name).write_bytes(sample.read_bytes())
    target = unreachable(hub_settings)
    with RawProducer(target, delivery_timeout_s=1.0) as writer:
        report = watch(target, "courier", tmp_path, poll_interval_s=0.1, once=True, producer=writer)
    assert (report.done, report.failed, report.pending) == ([], [], names)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == names
    assert list((tmp_path / "done").iterdir()) == []


def test_file_drop_watches_until_stopped_and_takes_renamed_files(
    hub_settings, topics, producer, tmp_path
):
    stop = threading.Event()
    results: list[Any] = []
    watcher = threading.Thread(
        target=lambda: results.append(
            watch(hub_settings, "courier", tmp_path, 0.1, producer=producer, stop=stop)
        )
    )
    watcher.start()
    try:
        part = tmp_path / "01-pickup.json.part"
        part.write_bytes(PICKUP.read_bytes())
        time.sleep(0.3)
        assert part.exists()  # a .part file is never taken
        part.rename(tmp_path / "01-pickup.json")
        deadline = time.monotonic() + 30
        while not (tmp_path / "done" / "01-pickup.json").exists():
            assert time.monotonic() < deadline, "the renamed file was not taken"
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join(30)
    assert results[0].done == ["01-pickup.json"]
    with TopicReader(hub_settings, topics.raw["courier"]) as reader:
        assert reader.poll_until(lambda rs: len(rs) >= 1, timeout_s=30)
    assert reader.records[0].value() == PICKUP.read_bytes()
    assert json.loads(reader.records[0].value())["message_id"] == "CRX-20261124-0001"
