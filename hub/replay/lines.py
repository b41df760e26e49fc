"""The recording format, one JSON object a line:

* a recorded partner message, as it reached the hub's raw topic::

    {"partner": "courier", "received_at": "2026-03-01T10:00:00Z",
     "content_type": "application/json", "payload": "<text>"}

  (``"payload_b64"`` instead of ``"payload"`` for bytes that are not UTF-8 text);
* a canonical event, ``{"event": {...}}``, or the event object itself as ``v2v normalise``
  prints it.

Blank lines and lines starting with ``#`` are skipped. A line that is neither is a
:class:`BadLine` with its number and the reason, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.base import RawMessage
from hub.events.models import Event


@dataclass(frozen=True)
class Where:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class MessageLine:
    where: Where
    message: RawMessage

    @property
    def received_at(self) -> datetime:
        return self.message.received_at


@dataclass(frozen=True)
class EventLine:
    where: Where
    event: Event

    @property
    def received_at(self) -> datetime:
        return self.event.source.received_at


@dataclass(frozen=True)
class BadLine:
    where: Where
    reason: str


Line = MessageLine | EventLine | BadLine


def message_line(
    partner: str, received_at: datetime, content_type: str | None, payload: bytes
) -> str:
    """One recorded message as a line of the format (no newline)."""
    record: dict[str, Any] = {
        "partner": partner,
        "received_at": received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "content_type": content_type or "application/octet-stream",
    }
    try:
        record["payload"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_b64"] = base64.b64encode(payload).decode("ascii")
    return json.dumps(record, ensure_ascii=False)


def read_lines(path: Path) -> Iterator[Line]:
    """Every line of a recording, parsed; an unreadable file is one bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield BadLine(Where(str(path), 0), f"cannot read the file: {exc}")
        return
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield parse_line(raw, Where(str(path), number))


def parse_line(raw: str, where: Where) -> Line:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return BadLine(where, f"not JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return BadLine(where, f"a line must be a JSON object, not {type(record).__name__}")
    if "partner" in record:
        return _message(record, where)
    event = record.get("event", record if "event_id" in record else None)
    if not isinstance(event, dict):
        return BadLine(where, "neither a recorded message ('partner') nor an event ('event')")
    try:
        return EventLine(where, Event.model_validate(event))
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        return BadLine(where, f"not a canonical event: {at}: {first['msg']}")


def _message(record: dict[str, Any], where: Where) -> Line:
    partner, stamp = record.get("partner"), record.get("received_at")
    if not isinstance(partner, str) or not partner:
        return BadLine(where, "'partner' must be a connector name")
    if not isinstance(stamp, str):
        return BadLine(where, "'received_at' is required (ISO 8601 with offset)")
    try:
        received = datetime.fromisoformat(stamp)
    except ValueError:
        return BadLine(where, f"'received_at' is not ISO 8601: {stamp!r}")
    if received.tzinfo is None:
        return BadLine(where, f"'received_at' has no UTC offset: {stamp!r}")
    if isinstance(record.get("payload"), str):
        payload = record["payload"].encode("utf-8")
    elif isinstance(record.get("payload_b64"), str):
        try:
            payload = base64.b64decode(record["payload_b64"], validate=True)
        except (binascii.Error, ValueError):
            return BadLine(where, "'payload_b64' is not base64")
    else:
        return BadLine(where, "'payload' (text) or 'payload_b64' (bytes) is required")
    content_type = record.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        return BadLine(where, "'content_type' must be a string")
    message = RawMessage(partner, payload, received.astimezone(UTC), content_type)
    return MessageLine(where, message)
