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
from hub.serde.registry import display_url, new_registry_client, registry_failure

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
    """Confluent framing: the schema is registered under ``subject`` on first encode.

    A writer schema is asked of the registry once per schema id and kept (confluent-kafka's
    client caches it too); a failed lookup is not kept, so the next call asks again.
    ``encode`` and ``decode`` raise :class:`~hub.errors.SerializationError` when the bytes or
    the value are at fault (no magic byte, an id the registry does not know, a body that does
    not decode) and :class:`~hub.errors.RegistryUnavailableError` when the registry could not
    answer: retry those (:mod:`hub.serde.retry`), never dead-letter them.
    """

    MAGIC = 0

    def __init__(
        self, codec: AvroCodec[M], registry: Any, subject: str, *, registry_url: str | None = None
    ) -> None:
        from hub.serde.avro import schema_text

        self.codec = codec
        self.registry = registry
        self.subject = subject
        self.registry_url = registry_url or display_url(registry)
        # The full schema text: the parsing canonical form would drop the logical types.
        self._schema_text = schema_text(codec.model)
        self._schema_id: int | None = None
        self._writers: dict[int, dict[str, Any]] = {}

    def _own_id(self) -> int:
        if self._schema_id is None:
            from confluent_kafka.schema_registry import Schema

            try:
                schema_id = self.registry.register_schema(
                    self.subject, Schema(self._schema_text, "AVRO")
                )
            except Exception as exc:
                raise registry_failure(
                    exc, registry_url=self.registry_url, subject=self.subject
                ) from exc
            self._schema_id = int(schema_id)
            self._writers[self._schema_id] = self.codec.schema
        return self._schema_id

    def _writer(self, schema_id: int) -> dict[str, Any]:
        writer = self._writers.get(schema_id)
        if writer is not None:
            return writer
        try:
            registered = self.registry.get_schema(schema_id)
        except Exception as exc:
            raise registry_failure(
                exc, registry_url=self.registry_url, schema_id=schema_id
            ) from exc
        try:
            parsed = fastavro.parse_schema(json.loads(registered.schema_str))
        except Exception as exc:  # json and fastavro raise several unrelated types
            raise SerializationError(
                f"schema id {schema_id} from {self.registry_url} is not a usable Avro schema: {exc}"
            ) from exc
        if not isinstance(parsed, dict):
            raise SerializationError(f"schema id {schema_id} is not an Avro record schema")
        self._writers[schema_id] = parsed
        return parsed

    def encode(self, obj: M) -> bytes:
        return struct.pack(">bI", self.MAGIC, self._own_id()) + self.codec.encode_body(obj)

    def decode(self, data: bytes) -> M:
        if len(data) < 5 or data[0] != self.MAGIC:
            raise SerializationError("not Confluent wire format (missing magic byte 0)")
        (schema_id,) = struct.unpack(">I", data[1:5])
        return self.codec.decode_body(data[5:], self._writer(schema_id))

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
    Confluent's TopicNameStrategy). ``registry_url`` may be ``mock://...`` for tests; a real
    registry is asked with a timeout of ``REGISTRY_TIMEOUT_S`` (``hub.serde.registry``)."""
    from hub.errors import ConfigurationError
    from hub.serde.avro import codec_for

    codec = codec_for(model)
    if fmt == "single-object":
        return SingleObjectWireFormat(codec)
    if fmt == "confluent":
        if not registry_url:
            raise ConfigurationError("wire_format 'confluent' needs V2V_SCHEMA_REGISTRY_URL")
        registry = new_registry_client(registry_url)
        return ConfluentWireFormat(codec, registry, f"{topic}-value")
    raise ConfigurationError(f"unknown wire format {fmt!r}")
