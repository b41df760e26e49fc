"""Avro encode/decode of the canonical records (fastavro, parsed schemas)."""

from hub.serde.avro import AvroCodec, codec_for
from hub.serde.wire import ConfluentWireFormat, SingleObjectWireFormat, WireFormat, wire_for

__all__ = [
    "AvroCodec",
    "ConfluentWireFormat",
    "SingleObjectWireFormat",
    "WireFormat",
    "codec_for",
    "wire_for",
]
