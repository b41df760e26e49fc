"""Wire formats: how an Avro body is framed on a Kafka record.

* ``SingleObjectWireFormat`` (default): Avro single-object encoding, ``C3 01`` + the writer
  schema's 8-byte CRC-64-AVRO fingerprint (little-endian) + body. Self-describing without a
  registry; readers resolve the fingerprint among the schema versions they know.
* ``ConfluentWireFormat``: magic byte ``0`` + 4-byte big-endian schema id + body, ids from a
  Confluent-compatible schema registry through confluent-kafka's client.

Both follow confluent-kafka's serializer contract (``serializer(obj, ctx) -> bytes``) through
``serializer()`` / ``deserializer()``, so they plug in wherever a confluent serializer would.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Generic, Protocol, TypeVar

import fastavro
from confluent_kafka.serialization import Deserializer, SerializationContext, Serializer
from pydantic import BaseModel

from hub.errors import SerializationError
from hub.serde.avro import AvroCodec

M = TypeVar("M", bound=BaseModel)

SINGLE_OBJECT_MAGIC = b"\xc3\x01"


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """The 8 bytes (little-endian) that identify a schema in single-object encoding."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    # fastavro renders the CRC-64-AVRO fingerprint as hex of its little-endian bytes.
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


class WireFormat(Protocol[M]):
    def encode(self, obj: M) -> bytes: ...

    def decode(self, data: bytes) -> M: ...


class SingleObjectWireFormat(Generic[M]):
    """Single-object encoding; ``known_writers`` are older schema versions a reader accepts."""

    def __init__(self, codec: AvroCodec[M], known_writers: list[dict[str, Any]] | None = None):
        self.codec = codec
        self.header = SINGLE_OBJECT_MAGIC + schema_fingerprint(codec.schema)
        self._writers: dict[bytes, dict[str, Any]] = {self.header[2:]: codec.schema}
        for schema in known_writers or []:
            self._writers[schema_fingerprint(schema)] = schema

    def encode(self, obj: M) -> bytes:
        return self.header + self.codec.encode_body(obj)

    def decode(self, data: bytes) -> M:
        if len(data) < 10 or data[:2] != SINGLE_OBJECT_MAGIC:
            raise SerializationError("not Avro single-object encoded (missing C3 01 header)")
        writer = self._writers.get(data[2:10])
        if writer is None:
            raise SerializationError(
                f"unknown writer schema fingerprint {data[2:10].hex()} "
                f"for {self.codec.model.__name__}"
            )
        return self.codec.decode_body(data[10:], writer)

    def serializer(self) -> Serializer:
        return _CallableSerializer(lambda obj, _ctx: self.encode(obj))

    def deserializer(self) -> Deserializer:
        return _CallableDeserializer(lambda data, _ctx: None if data is None else self.decode(data))


class ConfluentWireFormat(Generic[M]):
    """Confluent framing: the schema is registered under ``subject`` on first encode."""

    MAGIC = 0

    def __init__(self, codec: AvroCodec[M], registry: Any, subject: str) -> None:
        from hub.serde.avro import schema_text

        self.codec = codec
        self.registry = registry
        self.subject = subject
        # The full schema text: the parsing canonical form would drop the logical types.
        self._schema_text = schema_text(codec.model)
        self._schema_id: int | None = None
        self._writers: dict[int, dict[str, Any]] = {}

    def _own_id(self) -> int:
        if self._schema_id is None:
            from confluent_kafka.schema_registry import Schema

            self._schema_id = int(
                self.registry.register_schema(self.subject, Schema(self._schema_text, "AVRO"))
            )
            self._writers[self._schema_id] = self.codec.schema
        return self._schema_id

    def encode(self, obj: M) -> bytes:
        return struct.pack(">bI", self.MAGIC, self._own_id()) + self.codec.encode_body(obj)

    def decode(self, data: bytes) -> M:
        if len(data) < 5 or data[0] != self.MAGIC:
            raise SerializationError("not Confluent wire format (missing magic byte 0)")
        (schema_id,) = struct.unpack(">I", data[1:5])
        writer = self._writers.get(schema_id)
        if writer is None:
            try:
                registered = self.registry.get_schema(schema_id)
            except Exception as exc:
                raise SerializationError(f"schema id {schema_id} unknown to registry") from exc
            parsed = fastavro.parse_schema(json.loads(registered.schema_str))
            assert isinstance(parsed, dict)
            writer = self._writers[schema_id] = parsed
        return self.codec.decode_body(data[5:], writer)

    def serializer(self) -> Serializer:
        return _CallableSerializer(lambda obj, _ctx: self.encode(obj))

    def deserializer(self) -> Deserializer:
        return _CallableDeserializer(lambda data, _ctx: None if data is None else self.decode(data))


class _CallableSerializer(Serializer):
    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def __call__(self, obj: Any, ctx: SerializationContext | None = None) -> bytes | None:
        return None if obj is None else self._fn(obj, ctx)


class _CallableDeserializer(Deserializer):
    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def __call__(self, value: bytes | None, ctx: SerializationContext | None = None) -> Any:
        return self._fn(value, ctx)


def wire_for(
    model: type[M], fmt: str, topic: str, registry_url: str | None = None
) -> WireFormat[M]:
    """The configured wire format for ``model`` records on ``topic`` (subject ``<topic>-value``,
    Confluent's TopicNameStrategy). ``registry_url`` may be ``mock://...`` for tests."""
    from hub.errors import ConfigurationError
    from hub.serde.avro import codec_for

    codec = codec_for(model)
    if fmt == "single-object":
        return SingleObjectWireFormat(codec)
    if fmt == "confluent":
        if not registry_url:
            raise ConfigurationError("wire_format 'confluent' needs V2V_SCHEMA_REGISTRY_URL")
        from confluent_kafka.schema_registry import SchemaRegistryClient

        registry = SchemaRegistryClient.new_client({"url": registry_url})
        return ConfluentWireFormat(codec, registry, f"{topic}-value")
    raise ConfigurationError(f"unknown wire format {fmt!r}")
