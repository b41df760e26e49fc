"""What every ingress edge (HTTP, file drop) shares: content types, record headers, connectors.

The edge writes a partner message to ``v2v.raw.<partner>`` exactly as received, after only
:meth:`~connectors.base.Connector.prepare_raw` (pseudonymisation for identity-carrying feeds).
It never normalises: a message the connector cannot read must still reach the raw topic, so the
normaliser dead-letters it with its original bytes (DESIGN.md invariant 1).

Headers of a raw record written by the edge:

==================  ===========================================================================
``content-type``    the media type the partner declared (HTTP) or the file extension implies
``v2v.received_at`` when the edge received the message, UTC ISO 8601 (the hub's receipt time)
``ingest-id``       a fresh id per received message, for support ("which request was this?")
``message-id``      HTTP only: the ``Idempotency-Key`` request header, also the record key
``file-name``       file drop only: the file's name
==================  ===========================================================================
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePath

from connectors.base import Connector
from hub.flow import FlowCore
from hub.headers import (
    CONTENT_TYPE_HEADER,
    EXTENSION_TYPES,
    INGEST_ID_HEADER,
    RECEIVED_AT_HEADER,
)
from hub.settings import Settings
from hub.topics import Topics


def media_type(value: str | None) -> str | None:
    """The bare, lower-case media type of a Content-Type value (parameters such as ``charset``
    dropped), or None when the value is missing or not ``type/subtype``."""
    if value is None:
        return None
    bare = value.split(";", 1)[0].strip().lower()
    kind, slash, subtype = bare.partition("/")
    if not slash or not kind or not subtype or any(c.isspace() for c in bare):
        return None
    return bare


def accepts(connector: Connector, content_type: str | None) -> bool:
    """Whether ``content_type`` (any parameters allowed) is one the connector declares."""
    bare = media_type(content_type)
    return bare is not None and bare in connector.content_types


def extension_type(path: PurePath) -> str | None:
    """The media type a file name implies, or None for an extension the edge does not know."""
    return EXTENSION_TYPES.get(path.suffix.lower())


def new_ingest_id() -> str:
    return uuid.uuid4().hex


def edge_headers(
    content_type: str,
    ingest_id: str,
    received_at: datetime | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, bytes]]:
    """The headers of one raw record written by the edge (see the module docstring)."""
    stamp = (received_at or datetime.now(UTC)).astimezone(UTC).isoformat()
    return [
        (CONTENT_TYPE_HEADER, content_type.encode("utf-8")),
        (RECEIVED_AT_HEADER, stamp.encode("ascii")),
        (INGEST_ID_HEADER, ingest_id.encode("ascii")),
        *((name, value.encode("utf-8")) for name, value in extra),
    ]


def edge_connectors(settings: Settings) -> dict[str, Connector]:
    """One connector per configured raw feed, built from its partner registry entry with the
    deployment's pseudonym key: the same connectors as the worker's flow core."""
    return dict(FlowCore.from_settings(settings, list(Topics.of(settings).raw)).connectors)
