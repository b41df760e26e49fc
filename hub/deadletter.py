"""Dead-letter records: the original bytes, untouched, plus headers that say why.

The header names follow Kafka Connect's DLQ vocabulary (``__connect.errors.*``) that operators
already know, plus ``v2v.errors.*`` for what Connect has no word for.
"""

from __future__ import annotations

from connectors.base import Rejection

HeaderList = list[tuple[str, bytes]]


def deadletter_headers(
    rejection: Rejection,
    *,
    topic: str | None,
    partition: int | None,
    offset: int | None,
    original: HeaderList | None = None,
) -> HeaderList:
    headers: HeaderList = list(original or [])
    fields = {
        "__connect.errors.topic": topic,
        "__connect.errors.partition": None if partition is None else str(partition),
        "__connect.errors.offset": None if offset is None else str(offset),
        "__connect.errors.stage": rejection.stage,
        "__connect.errors.exception.class.name": rejection.code,
        "__connect.errors.exception.message": rejection.reason,
        "v2v.errors.code": rejection.code,
        "v2v.errors.partner": rejection.partner,
        "v2v.errors.message_id": rejection.message_id,
        "v2v.errors.field": rejection.field,
    }
    headers.extend((k, v.encode("utf-8")) for k, v in fields.items() if v is not None)
    return headers


def header_dict(headers: HeaderList | dict[str, bytes] | None) -> dict[str, str]:
    """Headers as text (last value wins), for readers and tests."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, dict) else headers
    return {k: (v or b"").decode("utf-8", "replace") for k, v in items}
