"""Kafka record header names the edge and the runtime share, and file extension -> media type.

Kept apart from the runtime so the edge (HTTP ingress, file drop) never imports Faust.
"""

from __future__ import annotations

from datetime import UTC, datetime

RECEIVED_AT_HEADER = "v2v.received_at"  # when the hub's edge received the message (UTC ISO 8601)
CONTENT_TYPE_HEADER = "content-type"
INGEST_ID_HEADER = "ingest-id"
MESSAGE_ID_HEADER = "message-id"
FILE_NAME_HEADER = "file-name"

EXTENSION_TYPES: dict[str, str] = {
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".xml": "application/xml",
    ".csv": "text/csv",
}

# The identity topic carries two kinds of record: a link (value: the COI) and an event waiting
# for its COI (value: the encoded event).
KIND_HEADER = "v2v.kind"
KIND_LINK = b"link"
KIND_EVENT = b"event"
OCCURRED_AT_HEADER = "v2v.occurred_at"  # event time of the fact a record reports (UTC ISO 8601)


def receipt_time(headers: list[tuple[str, bytes]], timestamp_ms: int) -> datetime:
    """When the hub received a raw record: the ingress edge's ``v2v.received_at`` header (HTTP
    ingress, file drop, simulator) or else the Kafka record timestamp. Either way a replayed
    record gives the same value, so replays stay idempotent."""
    for name, value in headers:
        if name == RECEIVED_AT_HEADER:
            try:
                stamp = datetime.fromisoformat(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                break
            if stamp.tzinfo is not None:
                return stamp.astimezone(UTC)
            break
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
