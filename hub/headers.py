"""Kafka record header names the edge and the runtime share, and file extension -> media type.

Kept apart from the runtime so the edge (HTTP ingress, file drop) never imports Faust.
"""

from __future__ import annotations

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
