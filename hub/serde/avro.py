"""Map the pydantic models to Avro records and back, against the schemas in ``schemas/``.

Unions of records are written with fastavro's ``(record name, dict)`` tuple notation and read
with ``return_record_name=True``, so a detail never lands in the wrong branch of the union,
however alike two detail records look.
"""

from __future__ import annotations

import io
import json
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import fastavro
from pydantic import BaseModel, ValidationError

from hub.cases.commands import CaseCommand
from hub.cases.models import Case, Escalation
from hub.errors import SerializationError
from hub.events.models import DETAIL_TYPES, Detail, Event

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
_DETAILS_BY_NAME: dict[str, type[Detail]] = {d.AVRO_NAME: d for d in DETAIL_TYPES}

M = TypeVar("M", bound=BaseModel)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``schemas/<name>.avsc`` (fastavro's parsed form, names resolved)."""
    path = SCHEMA_DIR / f"{name}.avsc"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SerializationError(f"cannot read schema {path}: {exc}") from exc
    parsed = fastavro.parse_schema(raw)
    assert isinstance(parsed, dict)
    return parsed


def _to_avro(value: Any) -> Any:
    if isinstance(value, Detail):
        return (value.AVRO_NAME, {k: _to_avro(v) for k, v in value})
    if isinstance(value, BaseModel):
        return {k: _to_avro(v) for k, v in value}
    if isinstance(value, list):
        return [_to_avro(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_avro(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return value.value
    return value


def _from_avro(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, body = value
        detail_type = _DETAILS_BY_NAME.get(name)
        if detail_type is None:
            return _from_avro(body)
        return detail_type.model_validate(_from_avro(body))
    if isinstance(value, dict):
        return {k: _from_avro(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_avro(v) for v in value]
    return value


class AvroCodec(Generic[M]):
    """Schemaless Avro body encode/decode for one model; wire framing lives in ``wire.py``."""

    def __init__(self, model: type[M], schema: dict[str, Any]) -> None:
        self.model = model
        self.schema = schema

    def to_record(self, obj: M) -> dict[str, Any]:
        record: dict[str, Any] = _to_avro(obj)
        return record

    def from_record(self, record: dict[str, Any]) -> M:
        try:
            return self.model.model_validate(_from_avro(record))
        except ValidationError as exc:
            raise SerializationError(
                f"{self.model.__name__}: decoded record invalid: {exc}"
            ) from exc

    def encode_body(self, obj: M) -> bytes:
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, self.schema, self.to_record(obj))
        except (ValueError, TypeError, KeyError) as exc:
            raise SerializationError(
                f"{self.model.__name__} does not fit its schema: {exc}"
            ) from exc
        return buf.getvalue()

    def decode_body(self, data: bytes, writer_schema: dict[str, Any] | None = None) -> M:
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(data),
                writer_schema or self.schema,
                self.schema,
                return_record_name=True,
                return_record_name_override=True,
            )
        except Exception as exc:  # fastavro raises a zoo of errors on bad bytes
            raise SerializationError(
                f"{self.model.__name__}: cannot decode Avro body: {exc}"
            ) from exc
        if not isinstance(record, dict):
            raise SerializationError(f"{self.model.__name__}: decoded value is not a record")
        return self.from_record(record)


_SCHEMA_FILES: dict[type[BaseModel], str] = {
    Event: "event",
    Case: "case",
    Escalation: "escalation",
    CaseCommand: "command",
}


@cache
def _codec(model: type[BaseModel]) -> AvroCodec[Any]:
    return AvroCodec(model, load_schema(_SCHEMA_FILES[model]))


def schema_text(model: type[BaseModel]) -> str:
    """The schema file's JSON text, logical types included (what a registry should store)."""
    return (SCHEMA_DIR / f"{_SCHEMA_FILES[model]}.avsc").read_text(encoding="utf-8")


def codec_for(model: type[M]) -> AvroCodec[M]:
    """The codec of a canonical record type (Event, Case, Escalation)."""
    if model not in _SCHEMA_FILES:
        raise SerializationError(f"no schema for {model.__name__}")
    codec: AvroCodec[M] = _codec(model)
    return codec
