"""Every canonical model round-trips through its Avro schema; schemas evolve both ways."""

from __future__ import annotations

import copy
import json
import typing
from datetime import UTC, datetime
from enum import Enum
from types import NoneType, UnionType
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel

from hub.cases.commands import CaseCommand
from hub.cases.models import Case, Escalation
from hub.errors import SerializationError
from hub.events.models import DETAIL_TYPES, Event, EventType, Source
from hub.serde import AvroCodec, ConfluentWireFormat, SingleObjectWireFormat, codec_for, wire_for
from hub.serde.avro import SCHEMA_DIR, load_schema

pytestmark = pytest.mark.req("REQ-INV-07")

WHEN = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)


def filled(model: type[BaseModel]) -> BaseModel:
    """An instance with every field set to a non-default value (so a field the schema lacks
    would come back empty and fail the round trip)."""
    hints = typing.get_type_hints(model)
    return model(**{name: _value(hints[name], name) for name in model.model_fields})


def _value(tp: Any, name: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _value(args[0], name)
    if origin in (typing.Union, UnionType):
        options = [a for a in args if a is not NoneType]
        return _value(options[0], name)
    if origin is list:
        return [_value(args[0], name), _value(args[0], name + "2")]
    if origin is dict:
        return {"k": _value(args[1], name)}
    if tp is str:
        return f"{name}-value"
    if tp is int:
        return 7
    if tp is float:
        return -152.25
    if tp is bool:
        return True
    if tp is datetime:
        return WHEN
    if isinstance(tp, type) and issubclass(tp, Enum):
        return list(tp)[-1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return filled(tp)
    raise TypeError(tp)


def event_with(detail: BaseModel | None) -> Event:
    base = filled(Event)
    return base.model_copy(update={"detail": detail})


@pytest.mark.parametrize("detail_type", DETAIL_TYPES, ids=lambda t: t.__name__)
@pytest.mark.req("REQ-P11-COPIES")
def test_event_with_every_detail_round_trips(detail_type) -> None:
    event = event_with(filled(detail_type))
    wire = SingleObjectWireFormat(codec_for(Event))
    decoded = wire.decode(wire.encode(event))
    assert decoded == event
    assert type(decoded.detail) is detail_type


def test_event_without_detail_round_trips() -> None:
    event = event_with(None)
    wire = SingleObjectWireFormat(codec_for(Event))
    assert wire.decode(wire.encode(event)) == event


@pytest.mark.parametrize("model", [Case, Escalation, CaseCommand])
@pytest.mark.req("REQ-P11-COPIES")
def test_case_and_escalation_round_trip(model) -> None:
    obj = filled(model)
    wire = SingleObjectWireFormat(codec_for(model))
    assert wire.decode(wire.encode(obj)) == obj


@pytest.mark.req("REQ-A11-STORAGE")
def test_single_object_header_carries_the_schema_fingerprint() -> None:
    wire = SingleObjectWireFormat(codec_for(Event))
    data = wire.encode(event_with(None))
    canonical = fastavro.schema.to_parsing_canonical_form(load_schema("event"))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10].hex() == fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "missing C3 01"),
        (b"\x00\x00\x00\x00\x01xxxx", "missing C3 01"),
        (b"\xc3\x01" + b"\x00" * 8 + b"body", "unknown writer schema"),
    ],
)
@pytest.mark.req("REQ-A11-STORAGE")
def test_garbage_is_a_serialization_error(data, message) -> None:
    wire = SingleObjectWireFormat(codec_for(Event))
    with pytest.raises(SerializationError, match=message):
        wire.decode(data)


@pytest.mark.req("REQ-A11-STORAGE")
def test_truncated_body_is_a_serialization_error() -> None:
    wire = SingleObjectWireFormat(codec_for(Event))
    data = wire.encode(event_with(None))
    with pytest.raises(SerializationError):
        wire.decode(data[: len(data) // 2])


def _with_optional_field(schema_name: str) -> dict[str, Any]:
    raw = json.loads((SCHEMA_DIR / f"{schema_name}.avsc").read_text())
    evolved = copy.deepcopy(raw)
    evolved["fields"].append({"name": "courier_note", "type": ["null", "string"], "default": None})
    parsed = fastavro.parse_schema(evolved)
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.req("REQ-A11-CHANGE")
def test_adding_an_optional_field_reads_both_ways() -> None:
    old = codec_for(Event)
    new_schema = _with_optional_field("event")
    event = event_with(filled(DETAIL_TYPES[0]))

    # new writer -> old reader: the old reader knows the new writer schema and skips the field
    new_body = fastavro_body(new_schema, {**old.to_record(event), "courier_note": "left at dock"})
    new_data = b"\xc3\x01" + _fingerprint(new_schema) + new_body
    assert SingleObjectWireFormat(old, known_writers=[new_schema]).decode(new_data) == event

    # old writer -> new reader: the field takes its default
    old_data = SingleObjectWireFormat(old).encode(event)
    new_reader = AvroCodec(dict, new_schema)  # type: ignore[type-var]
    record = fastavro.schemaless_reader(
        __import__("io").BytesIO(old_data[10:]),
        old.schema,
        new_reader.schema,
        return_record_name=True,
        return_record_name_override=True,
    )
    assert record["courier_note"] is None
    assert record["event_id"] == event.event_id


def fastavro_body(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    import io

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def _fingerprint(schema: dict[str, Any]) -> bytes:
    return bytes.fromhex(
        fastavro.schema.fingerprint(
            fastavro.schema.to_parsing_canonical_form(schema), "CRC-64-AVRO"
        )
    )


def test_confluent_wire_format_registers_once_and_round_trips() -> None:
    wire = wire_for(Event, "confluent", "v2v.events", "mock://v2v-unit")
    assert isinstance(wire, ConfluentWireFormat)
    event = event_with(None)
    data = wire.encode(event)
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    assert wire.registry.get_latest_version("v2v.events-value").schema_id == schema_id
    reader = ConfluentWireFormat(codec_for(Event), wire.registry, "v2v.events-value")
    assert reader.decode(data) == event
    with pytest.raises(SerializationError, match="magic byte"):
        wire.decode(b"\xc3\x01" + data[5:])


def test_serializers_follow_the_confluent_contract() -> None:
    wire = SingleObjectWireFormat(codec_for(Event))
    event = event_with(None)
    data = wire.serializer()(event, None)
    assert wire.deserializer()(data, None) == event
    assert wire.serializer()(None, None) is None


@pytest.mark.req("REQ-ALCOA-CONTEMPORANEOUS")
def test_naive_datetimes_are_refused_by_the_models() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        Source(partner="p", system="s", message_id="m", received_at=datetime(2026, 1, 1))


def test_event_types_of_the_design_catalogue_exist() -> None:
    names = {e.value for e in EventType}
    for required in (
        "THERAPY_ORDERED",
        "CUSTODY_RELEASED",
        "CUSTODY_ACCEPTED",
        "CLOCK_TICK",
        "TEMPERATURE_READING",
        "RELEASE_DECIDED",
        "RECORD_CORRECTED",
    ):
        assert required in names


@pytest.mark.req("REQ-P11-PROTECT")
def test_cases_written_before_withdrawal_existed_still_read() -> None:
    """WITHDRAWN joined the status enum with a default, so a reader of today's schema reads
    every case written before it, and a reader with a later symbol falls back to OPEN."""
    new = load_schema("case")
    status = next(f for f in new["fields"] if f["name"] == "status")["type"]
    assert status["symbols"][-1] == "WITHDRAWN"
    assert status["default"] == "OPEN"
    old = copy.deepcopy(new)
    old_status = next(f for f in old["fields"] if f["name"] == "status")["type"]
    old_status["symbols"] = ["OPEN", "ACKNOWLEDGED", "RESOLVED"]
    del old_status["default"]
    case = filled(Case)
    record = codec_for(Case).to_record(case)  # type: ignore[arg-type]
    record["status"] = "ACKNOWLEDGED"
    body = fastavro_body(fastavro.parse_schema(old), record)
    data = b"\xc3\x01" + _fingerprint(fastavro.parse_schema(old)) + body
    reader = SingleObjectWireFormat(codec_for(Case), known_writers=[fastavro.parse_schema(old)])
    assert reader.decode(data).status.value == "ACKNOWLEDGED"
    later = copy.deepcopy(new)
    next(f for f in later["fields"] if f["name"] == "status")["type"]["symbols"].append("MERGED")
    record["status"] = "MERGED"
    body = fastavro_body(fastavro.parse_schema(later), record)
    data = b"\xc3\x01" + _fingerprint(fastavro.parse_schema(later)) + body
    reader = SingleObjectWireFormat(codec_for(Case), known_writers=[fastavro.parse_schema(later)])
    assert reader.decode(data).status.value == "OPEN"


@pytest.mark.parametrize(
    ("model", "added"),
    [(Case, ("signatures",)), (CaseCommand, ("roles", "signature", "refusal"))],
)
def test_records_written_before_signatures_decode_with_defaults(model, added) -> None:
    """Case versions and commands on the topics from before authentication and e-signatures
    still decode: the fields added since take their defaults."""
    name = "case" if model is Case else "command"
    raw = json.loads((SCHEMA_DIR / f"{name}.avsc").read_text())
    old = copy.deepcopy(raw)
    old["fields"] = [f for f in old["fields"] if f["name"] not in added]
    assert len(old["fields"]) == len(raw["fields"]) - len(added)
    old_schema = fastavro.parse_schema(old)
    codec = codec_for(model)
    record = {k: v for k, v in codec.to_record(filled(model)).items() if k not in added}
    decoded = codec.decode_body(fastavro_body(old_schema, record), writer_schema=old_schema)
    for field in added:
        default = model.model_fields[field].get_default(call_default_factory=True)
        assert getattr(decoded, field) == default
