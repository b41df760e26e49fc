"""Confluent wire format against a registry that fails: an outage is retried, bad bytes are not.

The registry here is a real HTTP server on loopback that speaks the part of the Schema Registry
API the client uses (``GET /schemas/ids/{id}``, ``POST /subjects/{subject}/versions``) and can
be told to answer 503, to hang, or to not listen at all; the client is the one ``wire_for``
builds. confluent-kafka's ``mock://`` registry cannot be down, so it cannot test this.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from hub.errors import DeliveryError, RegistryUnavailableError, SerializationError
from hub.events.models import Event
from hub.serde import (
    ConfluentWireFormat,
    codec_for,
    decode_with_retry,
    decode_with_retry_sync,
    encode_with_retry,
)
from hub.serde.avro import schema_text
from hub.serde.registry import display_url, new_registry_client
from hub.serde.retry import backoff_delay
from tests.unit.test_serde import event_with

pytestmark = pytest.mark.req("REQ-INV-07", "REQ-A11-CONTINUITY")

SCHEMA_ID = 7
CLIENT_TIMEOUT_S = 0.3


class FakeRegistry:
    """A Confluent-compatible schema registry on 127.0.0.1 whose health the test sets.

    ``status`` is ``None`` (healthy) or the HTTP status every request gets (503 for an outage);
    ``hang`` makes every request wait until the test ends (a registry that accepts and never
    answers). ``requests`` lists ``(method, path)`` of every request that reached it.
    """

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, int] = {}
        self.incompatible: set[str] = set()
        self.status: int | None = None
        self.hang = False
        self.requests: list[tuple[str, str]] = []
        self.released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> FakeRegistry:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.answer(self)

            def do_POST(self) -> None:
                registry.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-registry"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def answer(self, req: BaseHTTPRequestHandler) -> None:
        path = urlsplit(req.path).path
        self.requests.append((req.command, path))
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        if self.hang:
            self.released.wait(timeout=10)
            return
        if self.status is not None:
            return self._send(req, self.status, {"error_code": 50301, "message": "unavailable"})
        parts = path.strip("/").split("/")
        if req.command == "GET" and parts[:2] == ["schemas", "ids"]:
            text = self.schemas.get(int(parts[2]))
            if text is None:
                return self._send(req, 404, {"error_code": 40403, "message": "Schema not found"})
            return self._send(req, 200, {"schema": text})
        if req.command == "POST" and parts[0] == "subjects" and parts[2] == "versions":
            subject = unquote(parts[1])
            if subject in self.incompatible:
                message = "Schema being registered is incompatible with an earlier schema"
                return self._send(req, 409, {"error_code": 409, "message": message})
            text = json.loads(body)["schema"]
            schema_id = self.subjects.setdefault(subject, len(self.schemas) + 1)
            self.schemas[schema_id] = text
            return self._send(req, 200, {"id": schema_id})
        return self._send(req, 404, {"error_code": 404, "message": "HTTP 404 Not Found"})

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


@pytest.fixture(autouse=True)
def threads_not_lingering() -> Iterator[None]:
    """Fail a test that leaves a thread behind (the registry's, or a retry's worker thread)."""
    before = set(threading.enumerate())
    yield
    lingering = [t for t in threading.enumerate() if t not in before]
    for thread in lingering:
        thread.join(timeout=5)
    assert not [t.name for t in lingering if t.is_alive()]


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry().start()
    fake.schemas[SCHEMA_ID] = schema_text(Event)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def wire_at() -> Iterator[Any]:
    """``wire_at(url)``: an Event wire format with the client ``wire_for`` builds, closed after."""
    clients: list[Any] = []

    def make(url: str) -> ConfluentWireFormat[Event]:
        client = new_registry_client(url, timeout_s=CLIENT_TIMEOUT_S)
        clients.append(client)
        return ConfluentWireFormat(codec_for(Event), client, "v2v.events-value")

    yield make
    for client in clients:
        client.close()


def framed(schema_id: int = SCHEMA_ID, event: Event | None = None) -> bytes:
    body = codec_for(Event).encode_body(event or event_with(None))
    return struct.pack(">bI", 0, schema_id) + body


def test_an_unreachable_registry_is_unavailable_not_undecodable(wire_at) -> None:
    with socket.socket() as bound_not_listening:  # connecting to it is refused
        bound_not_listening.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound_not_listening.getsockname()[1]}"
        with pytest.raises(RegistryUnavailableError) as caught:
            wire_at(url).decode(framed())
    err = caught.value
    assert not isinstance(err, SerializationError)
    assert isinstance(err, DeliveryError)
    assert (err.registry_url, err.schema_id, err.status) == (url, SCHEMA_ID, None)
    assert "ConnectError" in str(err)


def test_a_registry_answering_503_is_unavailable(registry, wire_at) -> None:
    registry.status = 503
    with pytest.raises(RegistryUnavailableError) as caught:
        wire_at(registry.url).decode(framed())
    assert (caught.value.status, caught.value.schema_id) == (503, SCHEMA_ID)
    assert caught.value.registry_url == registry.url


def test_a_registry_that_never_answers_times_out_as_unavailable(registry, wire_at) -> None:
    registry.hang = True
    with pytest.raises(RegistryUnavailableError, match="Timeout"):
        wire_at(registry.url).decode(framed())


def test_decode_with_retry_returns_the_event_once_the_registry_is_back(registry, wire_at) -> None:
    registry.status = 503
    wire = wire_at(registry.url)
    waits: list[tuple[int, float]] = []

    def on_wait(exc: RegistryUnavailableError, attempt: int, delay: float) -> None:
        assert exc.schema_id == SCHEMA_ID
        waits.append((attempt, delay))
        if attempt == 3:
            registry.status = None

    event = event_with(None)
    decoded = asyncio.run(
        decode_with_retry(wire, framed(event=event), on_wait=on_wait, base_delay_s=0.01)
    )
    assert decoded == event
    assert waits == [(1, 0.01), (2, 0.02), (3, 0.04)]
    # found once, then known: the next record does not ask the registry
    asked = len(registry.requests)
    assert asyncio.run(decode_with_retry(wire, framed(event=event))) == event
    assert len(registry.requests) == asked


def test_decode_with_retry_outlasts_a_registry_that_was_not_listening(wire_at) -> None:
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))
    port = placeholder.getsockname()[1]
    came_back: list[FakeRegistry] = []

    def on_wait(exc: RegistryUnavailableError, attempt: int, delay: float) -> None:
        if attempt == 2:  # the registry starts on the port nobody listened on
            placeholder.close()
            came_back.append(FakeRegistry().start(port))
            came_back[0].schemas[SCHEMA_ID] = schema_text(Event)

    try:
        wire = wire_at(f"http://127.0.0.1:{port}")
        decoded = decode_with_retry_sync(wire, framed(), on_wait=on_wait, base_delay_s=0.01)
        assert decoded == event_with(None)
        assert came_back[0].requests == [("GET", f"/schemas/ids/{SCHEMA_ID}")]
    finally:
        placeholder.close()
        for fake in came_back:
            fake.stop()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xc3\x01" + framed()[1:], "magic byte"),
        (b"\x00\x00\x00", "magic byte"),
        (framed(schema_id=99), "schema id 99 unknown to registry"),
        (framed()[:12], "Event"),
    ],
    ids=["wrong-magic", "too-short", "unknown-id", "truncated-body"],
)
def test_bad_bytes_are_undecodable_at_once(registry, wire_at, data, message) -> None:
    def on_wait(exc: RegistryUnavailableError, attempt: int, delay: float) -> None:
        raise AssertionError(f"retried a record whose bytes are bad: {exc}")

    with pytest.raises(SerializationError, match=message):
        asyncio.run(decode_with_retry(wire_at(registry.url), data, on_wait=on_wait))
    assert len(registry.requests) <= 1


def test_bad_magic_is_undecodable_even_while_the_registry_is_down(registry, wire_at) -> None:
    registry.status = 503
    with pytest.raises(SerializationError, match="magic byte"):
        wire_at(registry.url).decode(b"\xc3\x01" + framed()[1:])
    assert registry.requests == []


def test_encoding_during_an_outage_is_unavailable_then_registers(registry, wire_at) -> None:
    registry.status = 500
    wire = wire_at(registry.url)
    event = event_with(None)
    with pytest.raises(RegistryUnavailableError) as caught:
        wire.encode(event)
    assert (caught.value.subject, caught.value.schema_id) == ("v2v.events-value", None)

    def on_wait(exc: RegistryUnavailableError, attempt: int, delay: float) -> None:
        registry.status = None

    data = asyncio.run(encode_with_retry(wire, event, on_wait=on_wait, base_delay_s=0.01))
    schema_id = registry.subjects["v2v.events-value"]
    assert data[:5] == struct.pack(">bI", 0, schema_id)
    assert wire_at(registry.url).decode(data) == event


def test_a_schema_the_registry_refuses_is_a_serialization_error(registry, wire_at) -> None:
    registry.incompatible.add("v2v.events-value")
    with pytest.raises(SerializationError, match="incompatible"):
        wire_at(registry.url).encode(event_with(None))


def test_the_url_in_errors_carries_no_credentials(wire_at) -> None:
    client = new_registry_client("http://user:secret@127.0.0.1:1,http://127.0.0.1:2")
    try:
        assert display_url(client) == "http://127.0.0.1:1,http://127.0.0.1:2"
    finally:
        client.close()


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = [backoff_delay(n, base_delay_s=0.1, max_delay_s=10.0) for n in range(1, 10)]
    assert delays[:3] == [0.1, 0.2, 0.4]
    assert delays[-1] == 10.0
    assert backoff_delay(10_000, base_delay_s=0.1, max_delay_s=10.0) == 10.0
