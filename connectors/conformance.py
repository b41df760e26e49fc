"""The connector conformance kit: checks every connector (ours and a partner's future one) passes.

Conventions a connector folder follows (``connectors/<name>/``):

* ``samples/`` - valid partner messages; each must normalise without rejection, and every event
  must fit the canonical Avro schema (encode + decode gives the same event);
* ``bad/`` - malformed or unacceptable messages; each must be rejected with a specific code
  (never ``CONNECTOR_ERROR``, which means the connector itself failed);
* normalising the same message twice gives the same event ids (idempotency).

``tests/unit/test_conformance.py`` runs these checks, plus hypothesis fuzzing of raw bytes and
of field values, over every registered connector.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Connector, RawMessage, Result
from hub.events.models import Event
from hub.headers import EXTENSION_TYPES
from hub.serde import SingleObjectWireFormat, codec_for

CONNECTORS_DIR = Path(__file__).resolve().parent
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def sample_files(name: str, kind: str = "samples") -> list[Path]:
    folder = CONNECTORS_DIR / name / kind
    return sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in EXTENSION_TYPES)


def raw_message(connector: Connector, payload: bytes, suffix: str = ".json") -> RawMessage:
    return RawMessage(
        partner=connector.name,
        payload=payload,
        received_at=RECEIVED_AT,
        content_type=EXTENSION_TYPES.get(suffix),
    )


def run_file(connector: Connector, path: Path) -> Result:
    return connector.process(raw_message(connector, path.read_bytes(), path.suffix))


def assert_valid_sample(connector: Connector, path: Path) -> list[Event]:
    result = run_file(connector, path)
    assert result.rejection is None, f"{path.name} rejected: {result.rejection}"
    wire = SingleObjectWireFormat(codec_for(Event))
    for event in result.events:
        assert wire.decode(wire.encode(event)) == event, f"{path.name}: Avro round trip changed it"
        assert event.source.partner == connector.name
    again = run_file(connector, path)
    assert [e.event_id for e in again.events] == [e.event_id for e in result.events], (
        f"{path.name}: event ids are not deterministic"
    )
    assert len({e.event_id for e in result.events}) == len(result.events), "duplicate event ids"
    return list(result.events)


def assert_rejected(connector: Connector, path: Path) -> None:
    result = run_file(connector, path)
    assert result.rejection is not None, f"{path.name} was accepted: {result.events}"
    assert result.rejection.code != "CONNECTOR_ERROR", f"{path.name}: {result.rejection}"
    assert result.rejection.reason, f"{path.name}: rejection without a reason"


def assert_no_crash(connector: Connector, payload: bytes, suffix: str = ".json") -> Result:
    """Whatever the bytes, the connector answers with events or its own rejection."""
    result = connector.process(raw_message(connector, payload, suffix))
    if result.rejection is not None:
        assert result.rejection.code != "CONNECTOR_ERROR", result.rejection
    return result


def json_leaves(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Paths to every leaf of a JSON document (for field-value fuzzing)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in json_leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in json_leaves(v, (*path, i))] or [path]
    return [path]


def replace_leaf(doc: object, path: tuple[object, ...], new: object) -> bytes:
    copy = json.loads(json.dumps(doc))
    if not path:
        return json.dumps(new).encode()
    target: Any = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return json.dumps(copy).encode()
