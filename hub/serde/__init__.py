"""Avro encode/decode of the canonical records (fastavro, parsed schemas)."""

from hub.serde.avro import AvroCodec, codec_for
from hub.serde.retry import (
    decode_with_retry,
    decode_with_retry_sync,
    encode_with_retry,
    encode_with_retry_sync,
)
from hub.serde.wire import ConfluentWireFormat, SingleObjectWireFormat, WireFormat, wire_for

__all__ = [
    "AvroCodec",
    "ConfluentWireFormat",
    "SingleObjectWireFormat",
    "WireFormat",
    "codec_for",
    "decode_with_retry",
    "decode_with_retry_sync",
    "encode_with_retry",
    "encode_with_retry_sync",
    "wire_for",
]
