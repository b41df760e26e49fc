"""What every writer needs: local times with and without offset, XML text escaping, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


def local(at: datetime, zone: str) -> datetime:
    """``at`` in the partner's zone (``UTC`` stays UTC)."""
    return at.astimezone(UTC if zone == "UTC" else ZoneInfo(zone))


def iso(at: datetime, zone: str) -> str:
    """ISO 8601 with the local offset (``Z`` for UTC), to the second."""
    text = local(at, zone).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if zone == "UTC" else text


def naive_iso(at: datetime, zone: str) -> str:
    """The local wall-clock time without any offset: what a partner that forgets it sends."""
    return local(at, zone).replace(microsecond=0, tzinfo=None).isoformat()


def ambiguous(at: datetime, zone: str) -> bool:
    """Whether the local time of ``at`` happens twice (autumn daylight-saving change)."""
    wall = local(at, zone)
    return wall.replace(fold=0).utcoffset() != wall.replace(fold=1).utcoffset()


def xml(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_json(body: Any) -> bytes:
    return json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8")
