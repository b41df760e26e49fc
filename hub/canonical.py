"""Canonical JSON and its digest: one byte form of a record for hashing and signing.

Audit records, case versions and signatures are hashed over the same bytes wherever they are
checked (the worker, ``v2v audit verify``, a signature's verification): keys sorted, no
insignificant whitespace, UTF-8, datetimes in ISO 8601 as pydantic's JSON mode writes them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def canonical_json(value: Any) -> bytes:
    """``value`` (a pydantic model or JSON-able data) as canonical JSON bytes."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(value: Any) -> str:
    """SHA-256 of :func:`canonical_json`, as lowercase hex."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
